import { describe, expect, it } from 'vitest';
import { labelTableCells } from './table-labels.js';

describe('table cells labelled with their column for the stacked phone layout', () => {
  it('names each cell after its heading, spans included, and leaves a full-width cell unlabelled', () => {
    document.body.innerHTML = `
      <table>
        <thead><tr><th>Key</th><th colspan="2">Limits</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          <tr><td>k1</td><td>10</td><td>60 s</td><td><button>Revoke</button></td></tr>
          <tr><td colspan="4">No more keys</td></tr>
        </tbody>
      </table>`;
    labelTableCells(document);
    const rows = [...document.querySelectorAll('tbody tr')].map((r) => [...r.querySelectorAll('td')].map((c) => c.getAttribute('data-label')));
    expect(rows).toEqual([['Key', 'Limits', 'Limits', 'Actions'], ['']]);
  });

  it('leaves a table without headings alone', () => {
    document.body.innerHTML = '<table><tbody><tr><td>x</td></tr></tbody></table>';
    labelTableCells(document);
    expect(document.querySelector('td')!.hasAttribute('data-label')).toBe(false);
  });
});

/**
 * Gives every body cell of every table a `data-label` holding its column's heading, so that on a
 * narrow screen (app.css stacks tables into cards below 768 px) each value is shown with its name.
 * Derived from the table's own <thead>, so no page has to repeat its headings in each cell; a
 * heading that is empty or visually hidden (an actions column) gives an empty label.
 */
export function labelTableCells(root: ParentNode): void {
  for (const table of root.querySelectorAll('table')) {
    const headings = table.tHead?.rows[0];
    if (!headings) continue;
    const names: string[] = [];
    for (const th of headings.cells) {
      const name = (th.textContent ?? '').replace(/\s+/g, ' ').trim();
      for (let i = 0; i < Math.max(1, th.colSpan); i++) names.push(name);
    }
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          // A cell spanning every column (an empty state, an expanded detail) is not a field.
          const label = cell.colSpan >= names.length && names.length > 1 ? '' : (names[column] ?? '');
          if (cell.getAttribute('data-label') !== label) cell.setAttribute('data-label', label);
          column += Math.max(1, cell.colSpan);
        }
      }
    }
  }
}

/** Keeps the labels current as pages render and re-render; returns the function that stops it. */
export function keepTablesLabelled(root: HTMLElement): () => void {
  let queued = false;
  const run = () => {
    queued = false;
    labelTableCells(root);
  };
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    queueMicrotask(run);
  });
  // Only structure changes: setting data-label (an attribute) does not wake the observer again.
  observer.observe(root, { childList: true, subtree: true, characterData: true });
  run();
  return () => observer.disconnect();
}

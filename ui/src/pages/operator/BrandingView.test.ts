import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { contrast, inkOn } from '../../lib/accent.js';
import { applyBranding, branding as brandingState, type Branding } from '../../lib/branding.svelte.js';
import BrandingView from './BrandingView.svelte';

const gatehouse: Branding = { productName: 'Gatehouse', keyPrefix: null, accentColor: null, logoUrl: null, logoSrc: null, supportUrl: null, updatedAt: null };
const descriptra: Branding = {
  productName: 'Descriptra',
  keyPrefix: 'desc',
  accentColor: '#7c3aed',
  logoUrl: null,
  logoSrc: '/branding/logo?v=1',
  supportUrl: 'mailto:soporte@descriptra.example',
  updatedAt: '2026-12-01T00:00:00.000Z',
};

const input = (label: string) => screen.getByLabelText(label) as HTMLInputElement;
const submit = () => fireEvent.submit(screen.getByRole('button', { name: 'Save branding' }).closest('form')!);

describe('branding page', () => {
  afterEach(() => applyBranding(gatehouse));

  it('edits every field with a live preview and sends them', async () => {
    const onsave = vi.fn();
    render(BrandingView, { branding: gatehouse, onsave });
    await fireEvent.input(input('Product name'), { target: { value: '  Descriptra ' } });
    expect(screen.getByTestId('preview-name').textContent).toBe('Descriptra');
    await fireEvent.input(input('Key prefix of new workspaces'), { target: { value: 'desc' } });
    expect(screen.getByText('desc_sk_live_…')).toBeTruthy();
    await fireEvent.input(input('Accent colour picker'), { target: { value: '#7c3aed' } });
    expect(input('Accent colour').value).toBe('#7c3aed');
    await fireEvent.input(input('Support link'), { target: { value: 'mailto:soporte@descriptra.example' } });
    await fireEvent.click(screen.getByLabelText('Link to an image on https'));
    await fireEvent.input(input('Image URL'), { target: { value: 'https://cdn.descriptra.example/logo.png' } });
    // Not previewed before it is saved: the portal's CSP allows images from the saved logo's site only.
    expect(screen.getByRole('region', { name: 'Preview' }).querySelector('img')).toBeNull();
    await submit();
    expect(onsave).toHaveBeenCalledWith({
      productName: 'Descriptra',
      keyPrefix: 'desc',
      accentColor: '#7c3aed',
      supportUrl: 'mailto:soporte@descriptra.example',
      logo: { kind: 'url', url: 'https://cdn.descriptra.example/logo.png' },
    });
  });

  it('marks every bad field at once and sends nothing', async () => {
    const onsave = vi.fn();
    render(BrandingView, { branding: gatehouse, onsave });
    await fireEvent.input(input('Product name'), { target: { value: ' ' } });
    await fireEvent.input(input('Key prefix of new workspaces'), { target: { value: 'Desc_' } });
    await fireEvent.input(input('Accent colour'), { target: { value: 'purple' } });
    await fireEvent.input(input('Support link'), { target: { value: 'ftp://help.example' } });
    await fireEvent.click(screen.getByLabelText('Upload an image'));
    const svg = new File(['<svg/>'], 'logo.svg', { type: 'image/svg+xml' });
    await fireEvent.change(input('Image file (PNG, JPEG, WebP or GIF, at most 256 KB)'), { target: { files: [svg] } });
    await submit();
    expect(onsave).not.toHaveBeenCalled();
    for (const label of ['Product name', 'Key prefix of new workspaces', 'Accent colour', 'Support link', 'Image file (PNG, JPEG, WebP or GIF, at most 256 KB)']) {
      expect(input(label).getAttribute('aria-invalid'), label).toBe('true');
    }
    expect(screen.getByText('A PNG, JPEG, WebP or GIF image (SVG is not accepted).')).toBeTruthy();
  });

  it('shows the server’s refusal beside its field', () => {
    render(BrandingView, { branding: descriptra, onsave: vi.fn(), errors: { fields: { logo: 'The file is not a PNG image.' }, general: [] } });
    expect(screen.getByText('The file is not a PNG image.')).toBeTruthy();
    expect((screen.getByLabelText('Keep the current logo') as HTMLInputElement).checked).toBe(true);
    expect(screen.getByRole('region', { name: 'Preview' }).querySelector('img')?.getAttribute('src')).toBe('/branding/logo?v=1');
  });

  it('applies the accent through CSSOM, with readable text on it, and names the tab', () => {
    applyBranding({ ...descriptra, accentColor: '#fde047' });
    const root = document.documentElement.style;
    expect(root.getPropertyValue('--accent')).toBe('#fde047');
    // Yellow takes black text, purple white: each at least 4.5:1 (what axe checks on buttons).
    expect(root.getPropertyValue('--accent-ink')).toBe('#000000');
    expect(inkOn('#7c3aed')).toBe('#ffffff');
    for (const c of ['#fde047', '#7c3aed', '#1d4ed8', '#22c55e']) expect(contrast(c, inkOn(c))).toBeGreaterThanOrEqual(4.5);
    expect(document.title).toBe('Descriptra');
    expect(brandingState.current.productName).toBe('Descriptra');
    applyBranding(gatehouse);
    expect(root.getPropertyValue('--accent')).toBe('');
  });
});

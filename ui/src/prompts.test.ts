// The host-key and secret dialogs: "another key type is known" is its own warning, and every
// password question names the user@host:port it is for (a ProxyJump host's says it is one).
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { demoHost, renderApp, rowsOf } from './test/helpers';

describe('host keys', () => {
  it('first contact: the plain question, "Trust and save" focused, no known keys listed', async () => {
    await renderApp({ hosts: [demoHost] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    const dialog = await screen.findByTestId('hostkey-dialog');
    expect(dialog.textContent).toContain('first connection to demo.example.com');
    expect(within(dialog).queryByTestId('hostkey-other-type')).toBeNull();
    expect(within(dialog).queryByTestId('hostkey-known')).toBeNull();
    expect(within(dialog).getByTestId('hostkey-trust-save').hasAttribute('data-autofocus')).toBe(true);
  });

  it('another key type known: its own warning with the known key, Cancel focused, nothing saved on Cancel', async () => {
    const { mock } = await renderApp({ hosts: [{ ...demoHost, host: 'newtype.example.com' }] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    const dialog = await screen.findByTestId('hostkey-dialog');
    expect(dialog.textContent).toContain('Another key type is known for this host');
    const warning = within(dialog).getByTestId('hostkey-other-type');
    expect(warning.textContent).toContain('ssh-ed25519');
    expect(warning.textContent).toContain('impostor');
    const known = within(dialog).getByTestId('hostkey-known');
    expect(known.textContent).toContain('ssh-rsa');
    expect(known.textContent).toContain('~/.ssh/known_hosts line 3');
    expect(within(dialog).getByTestId('hostkey-fingerprint').textContent).toMatch(/^SHA256:/);
    expect(within(dialog).getByTestId('hostkey-cancel').hasAttribute('data-autofocus')).toBe(true);
    expect(within(dialog).getByTestId('hostkey-trust-save').hasAttribute('data-autofocus')).toBe(false);
    await fireEvent.click(within(dialog).getByTestId('hostkey-cancel'));
    await waitFor(() => expect(screen.getByTestId('connection-status').dataset.state).toBe('disconnected'));
    expect(mock.known.has('newtype.example.com:22')).toBe(false);
  });
});

describe('password questions', () => {
  it('name the target account', async () => {
    await renderApp({ hosts: [{ ...demoHost, auth: 'password', port: 2222 }], knownHosts: ['demo.example.com:2222'] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    const dialog = await screen.findByTestId('prompt-dialog');
    expect(within(dialog).getByTestId('prompt-account').textContent).toContain('Password for demo@demo.example.com:2222');
    expect(within(dialog).queryByTestId('prompt-jump')).toBeNull();
  });

  it("a ProxyJump host's question names the jump host and says it is not the target", async () => {
    const { mock } = await renderApp({
      hosts: [{ ...demoHost, host: 'viajump.example.com', auth: 'password' }],
      knownHosts: ['viajump.example.com:22'],
    });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    let dialog = await screen.findByTestId('prompt-dialog');
    expect(within(dialog).getByTestId('prompt-account').textContent).toContain('Password for demo@bastion.example.com:22');
    expect(within(dialog).getByTestId('prompt-jump').textContent).toContain('ProxyJump host');
    await fireEvent.input(within(dialog).getByTestId('prompt-input'), { target: { value: 'jump-pw' } });
    await fireEvent.click(within(dialog).getByTestId('prompt-ok'));
    // Then the target's own question.
    await waitFor(() => expect(screen.getByTestId('prompt-account').textContent).toContain('Password for demo@viajump.example.com:22'));
    dialog = screen.getByTestId('prompt-dialog');
    expect(within(dialog).queryByTestId('prompt-jump')).toBeNull();
    await fireEvent.input(within(dialog).getByTestId('prompt-input'), { target: { value: 'target-pw' } });
    await fireEvent.click(within(dialog).getByTestId('prompt-ok'));
    await waitFor(() => expect(rowsOf('remote').length).toBeGreaterThan(0));
    const answers = mock.calls.filter(([n]) => n === 'answer_prompt').map(([, a]) => (a as { answer: { value?: string } }).answer.value);
    expect(answers).toEqual(['jump-pw', 'target-pw']);
  });
});

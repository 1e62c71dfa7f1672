// The session's state transitions: connecting, connected, lost, reconnected, closed; which
// connection events count; and the questions asked while connecting.
import { describe, expect, it, vi } from 'vitest';
import type { AppError, HostProfile, Prompt, PromptAnswer, SessionInfo } from '../backend';
import { blankProfile } from './dialogs.svelte';
import { SessionState, type ConnectionEvent, type SessionBackend, type SessionView } from './session.svelte';

const host: HostProfile = { ...blankProfile(), id: 'h1', name: 'Box', host: 'box.example', user: 'me' };
const info: SessionInfo = { sessionId: 's1', label: 'me@box.example:22', profileId: 'h1', startPath: '/home/me' };

function setup(connect: SessionBackend['connect'] = async () => info) {
  const backend = { connect: vi.fn(connect), disconnect: vi.fn(async () => {}), answerPrompt: vi.fn(async (_answer: PromptAnswer) => {}) };
  const reporter = { showError: vi.fn<(e: AppError) => void>(), dismissError: vi.fn(), notify: vi.fn<(t: string) => void>() };
  const view = { opened: vi.fn<SessionView['opened']>(async () => {}), closed: vi.fn(), resumed: vi.fn() };
  const session = new SessionState(backend, reporter, { find: (id) => (id === host.id ? host : undefined) }, view);
  return { session, backend, reporter, view };
}

const password: Extract<Prompt, { kind: 'password' }> = { kind: 'password', id: 1, user: 'me', host: 'box', port: 22, account: 'me@box:22', jumpHost: false };

const event = (state: ConnectionEvent['state'], error: AppError | null = null, sessionId = 's1'): ConnectionEvent => ({ type: 'connection', sessionId, label: info.label, state, error });

describe('SessionState', () => {
  it('connects: "connecting" under the saved name, then connected, and the view opens with the profile', async () => {
    let during: unknown = null;
    const { session, reporter, view } = setup(async () => {
      during = { ...session.connection, connecting: session.connecting, profile: session.connectingProfile };
      return info;
    });
    expect(await session.connect({ kind: 'profile', id: 'h1' })).toBe(true);
    expect(during).toEqual({ state: 'connecting', label: 'Box', connecting: true, profile: 'h1' });
    expect(session.info).toEqual(info);
    expect(session.connection).toEqual({ state: 'connected', label: info.label });
    expect(session.connecting).toBe(false);
    expect(session.connectingProfile).toBeNull();
    expect(reporter.dismissError).toHaveBeenCalled();
    expect(view.opened).toHaveBeenCalledWith(info, host);
  });

  it('a failed connect shows the error; a cancelled one does not; both end disconnected with the questions gone', async () => {
    const fail = setup(async () => Promise.reject({ code: 'auth', message: 'connect me@box: refused' }));
    fail.session.onPrompt(password);
    expect(await fail.session.connect({ kind: 'quick', address: 'me@box' })).toBe(false);
    expect(fail.reporter.showError).toHaveBeenCalledWith({ code: 'auth', message: 'connect me@box: refused' });
    expect(fail.session.connection).toEqual({ state: 'disconnected', label: 'me@box' });
    expect(fail.session.prompts).toEqual([]);
    expect(fail.session.lastTarget).toEqual({ kind: 'quick', address: 'me@box' });

    const cancel = setup(async () => Promise.reject({ code: 'cancelled', message: 'cancelled' }));
    expect(await cancel.session.connect({ kind: 'quick', address: 'me@box' })).toBe(false);
    expect(cancel.reporter.showError).not.toHaveBeenCalled();
  });

  it('refuses a second connect while one is under way, and closes the old session before a new one', async () => {
    let release: (i: SessionInfo) => void = () => {};
    const { session, backend, view } = setup(() => new Promise((r) => (release = r)));
    const first = session.connect({ kind: 'profile', id: 'h1' });
    expect(await session.connect({ kind: 'profile', id: 'h1' })).toBe(false);
    release(info);
    await first;
    const second = session.connect({ kind: 'quick', address: 'other' });
    expect(backend.disconnect).toHaveBeenCalledWith('s1');
    expect(view.closed).toHaveBeenCalledTimes(1);
    await vi.waitFor(() => expect(backend.connect).toHaveBeenCalledTimes(2));
    release({ ...info, sessionId: 's2' });
    await second;
    expect(session.info?.sessionId).toBe('s2');
  });

  it('a lost session: reconnecting is a note, losing it for good drops it and offers Reconnect', async () => {
    const { session, backend, reporter, view } = setup();
    await session.connect({ kind: 'profile', id: 'h1' });
    session.onConnection(event('reconnecting', { code: 'network', message: 'connection reset' }));
    expect(reporter.notify).toHaveBeenCalledWith('connection reset');
    expect(session.connection?.state).toBe('reconnecting');
    session.onConnection(event('connected'));
    expect(view.resumed).toHaveBeenCalledTimes(1);

    session.onConnection(event('disconnected', { code: 'network', message: 'could not reconnect' }));
    expect(reporter.showError).toHaveBeenCalledWith({ code: 'network', message: 'could not reconnect' });
    expect(session.info).toBeNull();
    expect(session.dropped).toBe(true);
    expect(view.closed).toHaveBeenCalledTimes(1);
    expect(backend.disconnect).toHaveBeenCalledWith('s1');
    // Its late events change nothing.
    session.onConnection(event('connected'));
    expect(session.connection?.state).toBe('disconnected');
  });

  it('ignores events of other sessions unless connecting, and of sessions it closed', async () => {
    const { session, view } = setup();
    session.onConnection(event('connected', null, 'stranger'));
    expect(session.connection).toBeNull();
    await session.connect({ kind: 'profile', id: 'h1' });
    await session.disconnect();
    expect(session.dropped).toBe(false);
    expect(session.connection).toEqual({ state: 'disconnected', label: info.label });
    session.onConnection(event('reconnecting'));
    expect(session.connection?.state).toBe('disconnected');
    expect(view.resumed).not.toHaveBeenCalled();
  });

  it('questions wait in order and leave when answered', async () => {
    const { session, backend } = setup();
    const key: Extract<Prompt, { kind: 'hostKeyUnknown' }> = { kind: 'hostKeyUnknown', id: 1, host: 'box.example', port: 22, keyType: 'ssh-ed25519', fingerprint: 'SHA256:x', otherKnown: [] };
    const pw: Extract<Prompt, { kind: 'password' }> = { ...password, id: 2 };
    session.onPrompt(key);
    session.onPrompt(pw);
    await session.answerHostKey(key, 'trustAndSave');
    expect(session.prompts).toEqual([pw]);
    await session.answerSecret(pw, 'hunter2', true);
    expect(session.prompts).toEqual([]);
    expect(backend.answerPrompt.mock.calls.map(([a]) => a)).toEqual([
      { kind: 'hostKey', id: 1, decision: 'trustAndSave' },
      { kind: 'secret', id: 2, value: 'hunter2', remember: true },
    ]);
  });

  it('an empty quick-connect address asks for one instead of connecting', async () => {
    const { session, backend, reporter } = setup();
    await session.quickConnect('   ');
    expect(backend.connect).not.toHaveBeenCalled();
    expect(reporter.showError.mock.calls[0][0].code).toBe('config');
  });
});

// The dialogs that answer a promise: one on screen per kind, the rest waiting in order.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../backend';
import { blankProfile, Dialogs } from './dialogs.svelte';

const ask = (title: string) => ({ title, message: `${title}?`, okLabel: 'OK' });

describe('Dialogs', () => {
  it('shows a second confirm only after the first is answered, and answers each its own', async () => {
    const d = new Dialogs();
    const first = d.confirm(ask('one'));
    const second = d.confirm(ask('two'));
    expect(d.confirms.current?.title).toBe('one');
    expect(d.confirms.pending).toBe(2);
    d.confirms.settle(d.confirms.current!, true);
    expect(await first).toBe(true);
    expect(d.confirms.current?.title).toBe('two');
    d.confirms.settle(d.confirms.current!, false);
    expect(await second).toBe(false);
    expect(d.confirms.current).toBeNull();
    expect(d.asking).toBe(false);
  });

  it('answers a request once: settling it again does not skip the next one', async () => {
    const d = new Dialogs();
    const a = d.askName({ title: 'a', label: 'Name', initial: 'x', okLabel: 'OK' });
    const b = d.askName({ title: 'b', label: 'Name', initial: 'y', okLabel: 'OK' });
    const shown = d.names.current!;
    d.names.settle(shown, 'first');
    d.names.settle(shown, 'again');
    expect(await a).toBe('first');
    expect(d.names.current?.title).toBe('b');
    d.names.settle(d.names.current!, null);
    expect(await b).toBeNull();
    expect(d.names.pending).toBe(0);
  });

  it('keeps the kinds apart: a mode question does not wait behind a confirm', async () => {
    const d = new Dialogs();
    void d.confirm(ask('delete'));
    const entry: Entry = { name: 'f', kind: 'file', linkToDir: false, size: 1, mtime: 0, mode: 0o644 };
    const mode = d.askMode(entry, '/srv/f');
    expect(d.modes.current?.path).toBe('/srv/f');
    expect(d.asking).toBe(true);
    d.modes.settle(d.modes.current!, 0o600);
    expect(await mode).toBe(0o600);
  });

  it('opens the host editor on a copy, or on a blank new host', () => {
    const d = new Dialogs();
    const p = { ...blankProfile(), id: 'h1', name: 'Box', host: 'box' };
    d.editHost(p);
    expect(d.hostEditor).toEqual({ profile: p, isNew: false });
    expect(d.hostEditor?.profile).not.toBe(p);
    d.editHost(null);
    expect(d.hostEditor).toEqual({ profile: blankProfile(), isNew: true });
  });
});

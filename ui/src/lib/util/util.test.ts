import { describe, expect, it } from 'vitest';
import type { Entry } from '../backend';
import { formatEta, humanSize, octal, parseOctal, percent, permString } from './format';
import { baseName, crumbs, isInside, joinPath, parentPath } from './paths';
import { clickSelect, emptySelection, moveCursor } from './selection';
import { comparator, mergeSorted, sortEntries } from './sort';

const e = (name: string, kind: Entry['kind'] = 'file', size = 0, mtime: number | null = 0): Entry => ({ name, kind, linkToDir: false, size, mtime, mode: 0o644 });

describe('format', () => {
  it('sizes in binary units', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1023)).toBe('1023 B');
    expect(humanSize(1536)).toBe('1.5 KiB');
    expect(humanSize(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(humanSize(600 * 1024 * 1024 * 1024)).toBe('600 GiB');
  });
  it('modes as rwx strings and octal', () => {
    expect(permString(0o755, 'dir')).toBe('drwxr-xr-x');
    expect(permString(0o644, 'file')).toBe('-rw-r--r--');
    expect(permString(0o1777, 'dir')).toBe('drwxrwxrwt');
    expect(permString(null)).toBe('');
    expect(octal(0o640)).toBe('640');
    expect(parseOctal('0755')).toBe(0o755);
    expect(parseOctal('9')).toBeNull();
  });
  it('ETA and percent', () => {
    expect(formatEta(42)).toBe('42 s');
    expect(formatEta(185)).toBe('3:05');
    expect(formatEta(3720)).toBe('1 h 02 m');
    expect(formatEta(null)).toBe('—');
    expect(percent(50, 200)).toBe(25);
    expect(percent(0, 0, true)).toBe(100);
  });
});

describe('paths', () => {
  it('POSIX', () => {
    expect(joinPath('/', 'etc')).toBe('/etc');
    expect(joinPath('/home/you', 'a')).toBe('/home/you/a');
    expect(parentPath('/home/you')).toBe('/home');
    expect(parentPath('/home')).toBe('/');
    expect(parentPath('/')).toBe('/');
    expect(baseName('/home/you/')).toBe('you');
    expect(crumbs('/home/you').map((c) => c.path)).toEqual(['/', '/home', '/home/you']);
  });
  it('Windows', () => {
    expect(joinPath('C:\\Users', 'me')).toBe('C:\\Users\\me');
    expect(parentPath('C:\\Users\\me')).toBe('C:\\Users');
    expect(parentPath('C:\\Users')).toBe('C:\\');
    expect(crumbs('C:\\Users\\me').map((c) => c.path)).toEqual(['C:\\', 'C:\\Users', 'C:\\Users\\me']);
  });
});

describe('sorting', () => {
  const list = [e('b.txt', 'file', 5), e('Zeta', 'dir'), e('a.txt', 'file', 50), e('alpha', 'dir'), { ...e('to-dir', 'link'), linkToDir: true }, e('file10'), e('file9')];

  it('puts folders (and links to folders) first, by name, naturally', () => {
    expect(sortEntries(list, { key: 'name', desc: false }).map((x) => x.name)).toEqual(['alpha', 'to-dir', 'Zeta', 'a.txt', 'b.txt', 'file9', 'file10']);
  });
  it('keeps folders first when reversed or sorted by size', () => {
    expect(sortEntries(list, { key: 'name', desc: true }).map((x) => x.name).slice(0, 3)).toEqual(['Zeta', 'to-dir', 'alpha']);
    const bySize = sortEntries(list, { key: 'size', desc: true }).map((x) => x.name);
    expect(bySize.slice(0, 3).sort()).toEqual(['Zeta', 'alpha', 'to-dir']);
    expect(bySize[3]).toBe('a.txt');
  });
  it('merges a sorted chunk into a sorted list', () => {
    const cmp = comparator({ key: 'name', desc: false });
    const a = sortEntries([e('c'), e('a'), e('dir1', 'dir')], { key: 'name', desc: false });
    const b = sortEntries([e('b'), e('dir0', 'dir'), e('d')], { key: 'name', desc: false });
    expect(mergeSorted(a, b, cmp).map((x) => x.name)).toEqual(['dir0', 'dir1', 'a', 'b', 'c', 'd']);
  });
});

describe('selection', () => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  it('click, ctrl+click toggles, shift+click extends from the anchor', () => {
    let s = clickSelect(emptySelection, names, 1, { toggle: false, shift: false });
    expect([...s.selected]).toEqual(['b']);
    s = clickSelect(s, names, 3, { toggle: false, shift: true });
    expect([...s.selected].sort()).toEqual(['b', 'c', 'd']);
    s = clickSelect(s, names, 2, { toggle: true, shift: false });
    expect([...s.selected].sort()).toEqual(['b', 'd']);
    s = clickSelect(s, names, 4, { toggle: true, shift: true });
    expect([...s.selected].sort()).toEqual(['b', 'c', 'd', 'e']);
  });
  it('arrows move the cursor; shift+arrows extend', () => {
    let s = moveCursor(emptySelection, names, 1, false);
    expect(s.cursor).toBe('a');
    s = moveCursor(s, names, 1, true);
    s = moveCursor(s, names, 1, true);
    expect([...s.selected]).toEqual(['a', 'b', 'c']);
    s = moveCursor(s, names, 'end', false);
    expect([...s.selected]).toEqual(['e']);
  });
});

describe('isInside', () => {
  it('is below a folder, not the folder itself or a sibling with the same prefix', () => {
    expect(isInside('/home/demo/photos/2024', '/home/demo')).toBe(true);
    expect(isInside('/home/demo/', '/home/demo')).toBe(false);
    expect(isInside('/home/demonstration', '/home/demo')).toBe(false);
    expect(isInside('/etc', '/')).toBe(true);
    expect(isInside('C:\\Users\\you\\x', 'C:\\Users')).toBe(true);
  });
});

// Path arithmetic for both panes. Remote paths are POSIX; local paths are POSIX or, on
// Windows, `C:\dir\file`. Nothing here touches a file system.

/** Whether a path is a Windows path (`C:\…` or `\\server\…`). */
export function isWindowsPath(p: string): boolean {
  return /^[A-Za-z]:([\\/]|$)/.test(p) || p.startsWith('\\\\');
}

function sepOf(p: string): string {
  return isWindowsPath(p) ? '\\' : '/';
}

/** `dir` + `name` with the separator `dir` uses. */
export function joinPath(dir: string, name: string): string {
  const sep = sepOf(dir);
  if (dir.endsWith('/') || dir.endsWith('\\')) return dir + name;
  return dir + sep + name;
}

/** The folder holding `p` (`/` and `C:\` are their own parent). */
export function parentPath(p: string): string {
  const sep = sepOf(p);
  const trimmed = p.length > 1 ? p.replace(/[\\/]+$/, '') : p;
  if (isWindowsPath(trimmed)) {
    const m = /^[A-Za-z]:/.exec(trimmed);
    const idx = Math.max(trimmed.lastIndexOf('\\'), trimmed.lastIndexOf('/'));
    if (m && idx <= 2) return `${m[0]}${sep}`;
    return trimmed.slice(0, idx);
  }
  const idx = trimmed.lastIndexOf('/');
  if (idx <= 0) return '/';
  return trimmed.slice(0, idx);
}

/** The last component (`/a/b.txt` → `b.txt`; `/` → `/`). */
export function baseName(p: string): string {
  const trimmed = p.replace(/[\\/]+$/, '');
  if (trimmed === '') return p;
  const idx = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  return trimmed.slice(idx + 1) || trimmed;
}

export interface Crumb {
  label: string;
  path: string;
}

/** `/home/you/src` → `/`, `home`, `you`, `src`, each with the path it opens. */
export function crumbs(p: string): Crumb[] {
  if (!p) return [];
  if (isWindowsPath(p)) {
    const parts = p.split(/[\\/]+/).filter(Boolean);
    const out: Crumb[] = [];
    let acc = '';
    parts.forEach((part, i) => {
      acc = i === 0 ? `${part}\\` : joinPath(acc, part);
      out.push({ label: i === 0 ? part : part, path: acc });
    });
    return out;
  }
  const out: Crumb[] = [{ label: '/', path: '/' }];
  let acc = '';
  for (const part of p.split('/').filter(Boolean)) {
    acc += `/${part}`;
    out.push({ label: part, path: acc });
  }
  return out;
}

/** Whether `p` lies somewhere below the folder `dir` (not `dir` itself). */
export function isInside(p: string, dir: string): boolean {
  const norm = (s: string) => (s.length > 1 ? s.replace(/[\\/]+$/, '') : s);
  const d = norm(dir);
  const sep = isWindowsPath(d) ? '\\' : '/';
  const prefix = d.endsWith('/') || d.endsWith('\\') ? d : d + sep;
  const q = norm(p);
  return q !== d && q.startsWith(prefix);
}

/** Whether `child` is `dir` itself (ignoring a trailing separator). */
export function samePath(a: string, b: string): boolean {
  const norm = (s: string) => (s.length > 1 ? s.replace(/[\\/]+$/, '') : s);
  return norm(a) === norm(b);
}

// An in-memory backend: a fake local and remote tree, fake hosts and a queue that moves with
// timers. It serves the unit tests and `npm run dev` in a plain browser. It follows the
// contract in src-tauri/src/ipc.rs, including its errors (`{ code, message }`) and events.
import { listingUntilDone, type Backend } from './index';
import type { AppError } from './bindings/AppError';
import type { ConnectTarget } from './bindings/ConnectTarget';
import type { Enqueue } from './bindings/Enqueue';
import type { Entry } from './bindings/Entry';
import type { EntryKind } from './bindings/EntryKind';
import type { ErrorCode } from './bindings/ErrorCode';
import type { HostProfile } from './bindings/HostProfile';
import type { JobAction } from './bindings/JobAction';
import type { JobProgress } from './bindings/JobProgress';
import type { JobView } from './bindings/JobView';
import type { ListingChunk } from './bindings/ListingChunk';
import type { Overwrite } from './bindings/Overwrite';
import type { OverwriteReply } from './bindings/OverwriteReply';
import type { Prompt } from './bindings/Prompt';
import type { PromptAnswer } from './bindings/PromptAnswer';
import type { QueueAction } from './bindings/QueueAction';
import type { QueueTrouble } from './bindings/QueueTrouble';
import type { QueueTroubleChoice } from './bindings/QueueTroubleChoice';
import type { SaveHost } from './bindings/SaveHost';
import type { SessionInfo } from './bindings/SessionInfo';
import type { Settings } from './bindings/Settings';
import type { Side } from './bindings/Side';
import type { UiEvent } from './bindings/UiEvent';
import type { OsDragDropPayload } from '../util/drop';

// ---------------------------------------------------------------------------------------
// A tiny file system

interface Node {
  name: string;
  kind: EntryKind;
  size: number;
  mtime: number;
  mode: number;
  linkToDir?: boolean;
  children?: Map<string, Node>;
  /** A folder whose `generated` files are made up on listing (the 100,000-entry folder). */
  generated?: number;
}

const NOW = 1_717_000_000;

function file(name: string, size: number, ageDays = 3, mode = 0o644): Node {
  return { name, kind: 'file', size, mtime: NOW - ageDays * 86_400, mode };
}

function dir(name: string, children: Node[] = [], ageDays = 10, mode = 0o755): Node {
  return { name, kind: 'dir', size: 4096, mtime: NOW - ageDays * 86_400, mode, children: new Map(children.map((c) => [c.name, c])) };
}

function generatedName(i: number): string {
  return `file-${String(i).padStart(6, '0')}.dat`;
}

function generatedEntry(i: number): Entry {
  return { name: generatedName(i), kind: 'file', linkToDir: false, size: (i * 7919) % 5_000_000, mtime: NOW - (i % 1000) * 3600, mode: 0o644 };
}

function toEntry(n: Node): Entry {
  return { name: n.name, kind: n.kind, linkToDir: !!n.linkToDir, size: n.kind === 'dir' ? 0 : n.size, mtime: n.mtime, mode: n.mode };
}

function err(code: ErrorCode, message: string): AppError {
  return { code, message };
}

function split(path: string): string[] {
  return path.split('/').filter(Boolean);
}

function parentOf(path: string): string {
  const parts = split(path);
  parts.pop();
  return '/' + parts.join('/');
}

function nameOf(path: string): string {
  const parts = split(path);
  return parts[parts.length - 1] ?? '/';
}

function join(dirPath: string, name: string): string {
  return dirPath.endsWith('/') ? dirPath + name : `${dirPath}/${name}`;
}

class MockFs {
  root: Node;
  constructor(
    root: Node,
    readonly home: string,
    readonly label: string,
  ) {
    this.root = root;
  }

  /** Turns a generated folder into real nodes before it is changed. */
  private materialise(n: Node) {
    if (n.generated && n.children) {
      for (let i = 1; i <= n.generated; i++) {
        const e = generatedEntry(i);
        n.children.set(e.name, { name: e.name, kind: 'file', size: e.size, mtime: e.mtime ?? NOW, mode: 0o644 });
      }
      n.generated = undefined;
    }
  }

  get(path: string): Node | null {
    let n: Node = this.root;
    for (const part of split(path)) {
      if (!n.children) return null;
      const next = n.children.get(part);
      if (!next) {
        if (n.generated) {
          const m = /^file-(\d{6})\.dat$/.exec(part);
          const i = m ? Number(m[1]) : 0;
          if (i >= 1 && i <= n.generated) {
            const e = generatedEntry(i);
            return { name: e.name, kind: 'file', size: e.size, mtime: e.mtime ?? NOW, mode: 0o644 };
          }
        }
        return null;
      }
      n = next;
    }
    return n;
  }

  entries(n: Node): Entry[] {
    const out = [...(n.children?.values() ?? [])].map(toEntry);
    if (n.generated) for (let i = 1; i <= n.generated; i++) out.push(generatedEntry(i));
    return out;
  }

  dirOf(path: string, op: string): Node {
    const n = this.get(path);
    if (!n) throw err('notFound', `${op} on ${this.label}: ${path} does not exist. Check the path and try again.`);
    if (n.kind !== 'dir' || !n.children) throw err('wrongType', `${op} on ${this.label}: ${path} is not a folder.`);
    return n;
  }

  add(path: string, node: Node) {
    const parent = this.dirOf(parentOf(path), 'Writing');
    this.materialise(parent);
    parent.children!.set(node.name, node);
  }

  remove(path: string) {
    const parent = this.dirOf(parentOf(path), 'Deleting');
    this.materialise(parent);
    if (!parent.children!.delete(nameOf(path))) throw err('notFound', `Deleting on ${this.label}: ${path} does not exist.`);
  }

  /** Every file below a node with its relative path (for a folder job). */
  files(n: Node, base = ''): { rel: string; node: Node }[] {
    if (n.kind !== 'dir') return [{ rel: base || n.name, node: n }];
    const out: { rel: string; node: Node }[] = [];
    for (const c of n.children?.values() ?? []) out.push(...this.files(c, base ? `${base}/${c.name}` : `${n.name}/${c.name}`));
    if (n.generated) {
      for (let i = 1; i <= n.generated; i++) {
        const e = generatedEntry(i);
        out.push({ rel: `${base || n.name}/${e.name}`, node: { name: e.name, kind: 'file', size: e.size, mtime: e.mtime ?? NOW, mode: 0o644 } });
      }
    }
    return out;
  }

  /** Creates the folders of `rel` under `dirPath` and returns the file's full path. */
  ensureParents(dirPath: string, rel: string): string {
    const parts = rel.split('/');
    let cur = dirPath;
    for (const part of parts.slice(0, -1)) {
      const next = join(cur, part);
      const n = this.get(next);
      if (!n) this.add(next, dir(part, [], 0));
      cur = next;
    }
    return join(cur, parts[parts.length - 1]);
  }
}

function localTree(): Node {
  return dir('', [
    dir('home', [
      dir('you', [
        dir('Documents', [
          file('invoice-2024-03.pdf', 184_320, 40),
          file('letter.odt', 22_118, 12),
          file('taxes.xlsx', 98_304, 80),
        ]),
        dir('Downloads', [file('ubuntu-24.04-desktop-amd64.iso', 6_114_656_256, 20), file('archive.tar.gz', 73_400_320, 5)]),
        dir('Pictures', [file('holiday-001.jpg', 3_145_728, 100), file('holiday-002.jpg', 2_936_012, 100), file('screenshot.png', 412_000, 1)]),
        dir('projects', [
          dir('website', [file('index.html', 5_120, 2), file('style.css', 2_048, 2), dir('img', [file('logo.svg', 3_300, 30)])]),
          file('README.md', 1_250, 4),
        ]),
        dir('big', [], 1),
        dir('.config', [file('settings.json', 512, 2)]),
        file('.bashrc', 3_771, 200),
        file('notes.txt', 1_024, 0),
        file('report.pdf', 1_258_291, 7),
        file('a-file-with-a-very-long-name-that-will-not-fit-in-the-column-of-the-pane-2024-final-v2.txt', 42, 9),
        file('unreadable-fail.bin', 65_536, 3, 0o000),
        { name: 'docs-link', kind: 'link', linkToDir: true, size: 9, mtime: NOW - 86_400, mode: 0o777 },
      ]),
    ]),
    dir('tmp', [], 0, 0o1777),
  ]);
}

function remoteTree(big: number): Node {
  const tree = dir('', [
    dir('home', [
      dir('demo', [
        dir('public_html', [file('index.html', 8_200, 3), file('style.css', 4_100, 3), file('app.js', 51_200, 3), dir('assets', [file('hero.jpg', 824_000, 30)])]),
        dir('backups', [file('db-2024-05-01.sql.gz', 52_428_800, 30), file('db-2024-05-08.sql.gz', 53_477_376, 23), file('db-2024-05-15.sql.gz', 54_525_952, 16)]),
        dir('logs', [file('access.log', 10_485_760, 0), file('error.log', 20_480, 0)]),
        dir('big', [], 1),
        dir('.ssh', [file('authorized_keys', 400, 300, 0o600)], 300, 0o700),
        file('.profile', 807, 300),
        file('readme.md', 2_300, 5),
        file('notes.txt', 900, 30),
      ]),
    ]),
    dir('var', [dir('www', [file('index.html', 612, 400)])]),
    dir('tmp', [], 0, 0o1777),
  ]);
  (tree.children!.get('home')!.children!.get('demo')!.children!.get('big') as Node).generated = big;
  return tree;
}

// ---------------------------------------------------------------------------------------
// The queue

interface MockJob {
  view: JobView;
  order: number;
  files: { rel: string; node: Node }[];
  fileIndex: number;
  fileDone: number;
  /** The answer given "for all" in this job. */
  askAll: Overwrite | null;
  /** The policy for the current file, once decided. */
  decided: Overwrite | null;
  waiting: number | null;
  srcFs: MockFs;
  dstFs: MockFs;
  destDir: string;
  speed: number;
}

export interface MockOptions {
  /** Saved hosts at start. */
  hosts?: HostProfile[];
  /** `host:port`s whose keys are known already. */
  knownHosts?: string[];
  /** Realistic pace for `npm run dev` (slower listings and transfers). */
  demo?: boolean;
  /** Queue timer period. */
  tickMs?: number;
  /** Bytes a running job moves per second. */
  bytesPerSecond?: number;
  /** Entries per listing chunk. */
  chunkSize?: number;
  /** Delay between listing chunks. */
  chunkDelayMs?: number;
  /**
   * Answer `list_dir` before its chunks arrive, as Tauri's transport can (the reply and the
   * channel's messages travel separately); the backend still resolves only after the last.
   */
  lateChunks?: boolean;
  /** Size of the `big` folders. */
  bigFolder?: number;
  /** Starting settings. */
  settings?: Partial<Settings>;
  /** The queue database did not open at startup (the window shows its dialog). */
  queueTrouble?: QueueTrouble;
}

export class MockBackend implements Backend {
  readonly local: MockFs;
  readonly remote: MockFs;
  hosts: HostProfile[];
  known: Set<string>;
  settings: Settings;
  sessions = new Map<string, SessionInfo>();
  jobs = new Map<number, MockJob>();
  watched = new Set<string>();
  /** Every command the window sent, for tests: `[name, args]`. */
  calls: [string, unknown][] = [];

  private listeners: ((e: UiEvent) => void)[] = [];
  private dropHandlers: ((e: OsDragDropPayload) => void)[] = [];
  private pending = new Map<number, (a: PromptAnswer) => void>();
  private questions = new Map<number, MockJob>();
  private nextId = 1;
  private timer: ReturnType<typeof setInterval> | null = null;
  private sandboxId: string | null = null;
  private opts: Required<Omit<MockOptions, 'hosts' | 'knownHosts' | 'settings' | 'queueTrouble'>>;
  /** See {@link MockOptions.queueTrouble}; answered choices land in `calls`. */
  trouble: QueueTrouble | null;

  constructor(options: MockOptions = {}) {
    const demo = !!options.demo;
    this.opts = {
      demo,
      tickMs: options.tickMs ?? (demo ? 100 : 20),
      bytesPerSecond: options.bytesPerSecond ?? (demo ? 24 * 1024 * 1024 : 512 * 1024 * 1024),
      chunkSize: options.chunkSize ?? 2000,
      chunkDelayMs: options.chunkDelayMs ?? (demo ? 15 : 0),
      lateChunks: options.lateChunks ?? false,
      bigFolder: options.bigFolder ?? 100_000,
    };
    const big = this.opts.bigFolder;
    const localRoot = localTree();
    (localRoot.children!.get('home')!.children!.get('you')!.children!.get('big') as Node).generated = big;
    this.local = new MockFs(localRoot, '/home/you', 'this computer');
    this.remote = new MockFs(remoteTree(big), '/home/demo', 'the server');
    this.hosts = (options.hosts ?? []).map((h) => ({ ...h }));
    this.known = new Set(options.knownHosts ?? []);
    this.trouble = options.queueTrouble ? { ...options.queueTrouble } : null;
    this.settings = { filesInFlight: 64, speedLimit: null, overwrite: 'ask', showHidden: false, theme: 'system', ...options.settings };
  }

  // -- test and demo helpers ------------------------------------------------------------

  emit(event: UiEvent) {
    for (const l of this.listeners) l(event);
  }

  /** Delivers an OS drag-drop event exactly as Tauri would. */
  simulateOsDragDrop(event: OsDragDropPayload) {
    for (const h of this.dropHandlers) h(event);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private record(name: string, args: unknown) {
    this.calls.push([name, args]);
  }

  private later<T>(value: T, ms = 0): Promise<T> {
    return new Promise((resolve) => setTimeout(() => resolve(value), ms));
  }

  private fs(side: Side): MockFs {
    if (side.side === 'local') return this.local;
    if (!this.sessions.has(side.sessionId)) throw err('network', 'The connection to the server is closed. Connect again to browse it.');
    return this.remote;
  }

  private async run<T>(name: string, args: unknown, body: () => T): Promise<T> {
    this.record(name, args);
    await this.later(undefined);
    return body();
  }

  // -- events ----------------------------------------------------------------------------

  async subscribe(onEvent: (event: UiEvent) => void): Promise<void> {
    this.record('subscribe', {});
    this.listeners.push(onEvent);
  }

  async onOsDragDrop(handler: (event: OsDragDropPayload) => void): Promise<() => void> {
    this.dropHandlers.push(handler);
    return () => {
      this.dropHandlers = this.dropHandlers.filter((h) => h !== handler);
    };
  }

  // -- hosts -----------------------------------------------------------------------------

  hostsList() {
    return this.run('hosts_list', {}, () => this.hosts.map((h) => ({ ...h })));
  }

  hostSave(req: SaveHost) {
    return this.run('host_save', { req }, () => {
      const p = { ...req.profile };
      if (!p.name.trim() || !p.host.trim()) throw err('config', 'A host needs a name and an address.');
      if (!p.id) p.id = `h${this.nextId++}`;
      const old = this.hosts.find((h) => h.id === p.id);
      p.hasSecret = req.secret === null ? (old?.hasSecret ?? false) : req.secret !== '';
      if (old) this.hosts = this.hosts.map((h) => (h.id === p.id ? p : h));
      else this.hosts = [...this.hosts, p];
      return { ...p };
    });
  }

  hostDelete(id: string) {
    return this.run('host_delete', { id }, () => {
      this.hosts = this.hosts.filter((h) => h.id !== id);
    });
  }

  hostDuplicate(id: string) {
    return this.run('host_duplicate', { id }, () => {
      const h = this.hosts.find((x) => x.id === id);
      if (!h) throw err('notFound', `No saved host with id ${id}.`);
      const copy = { ...h, id: `h${this.nextId++}`, name: `${h.name} (copy)`, hasSecret: false };
      this.hosts = [...this.hosts, copy];
      return { ...copy };
    });
  }

  hostsImport() {
    return this.run('hosts_import', {}, () => {
      const found: HostProfile[] = [
        { id: '', name: 'web', host: 'web.example.com', port: 22, user: 'deploy', auth: 'auto', keyPath: null, localStart: null, remoteStart: '/var/www', hasSecret: false },
        { id: '', name: 'pi', host: 'raspberrypi.local', port: 2222, user: 'pi', auth: 'password', keyPath: null, localStart: null, remoteStart: null, hasSecret: false },
      ];
      for (const f of found) {
        if (this.hosts.some((h) => h.name === f.name)) continue;
        this.hosts = [...this.hosts, { ...f, id: `h${this.nextId++}` }];
      }
    });
  }

  // -- connecting ------------------------------------------------------------------------

  private ask(prompt: Prompt): Promise<PromptAnswer> {
    return new Promise((resolve) => {
      this.pending.set(prompt.id, resolve);
      this.emit({ type: 'prompt', prompt });
    });
  }

  private promptId(): number {
    return this.nextId++;
  }

  async connect(target: ConnectTarget): Promise<SessionInfo> {
    this.record('connect', { target });
    await this.later(undefined);
    let user = 'demo';
    let host: string;
    let port = 22;
    let profile: HostProfile | undefined;
    if (target.kind === 'profile') {
      profile = this.hosts.find((h) => h.id === target.id);
      if (!profile) throw err('config', `No saved host with id ${target.id}. It may have been deleted.`);
      ({ host, port } = profile);
      user = profile.user || 'you';
    } else {
      const m = /^(?:([^@]+)@)?([^:@\s]+)(?::(\d+))?$/.exec(target.address.trim());
      if (!m) throw err('config', `"${target.address}" is not an address. Write it as user@host or user@host:port.`);
      user = m[1] ?? 'demo';
      host = m[2];
      port = m[3] ? Number(m[3]) : 22;
    }
    const label = `${user}@${host}:${port}`;
    const sessionId = `s${this.nextId++}`;
    this.emit({ type: 'connection', sessionId, label, state: 'connecting', error: null });
    const fail = (e: AppError): never => {
      this.emit({ type: 'connection', sessionId, label, state: 'disconnected', error: e });
      throw e;
    };
    await this.later(undefined, this.opts.demo ? 300 : 0);
    if (host.startsWith('offline')) fail(err('network', `Connecting to ${host}:${port}: no route to host. Check the address and your network.`));
    if (host.startsWith('changed')) {
      fail(
        err(
          'hostKeyChanged',
          `The host key of ${host}:${port} has CHANGED since it was saved in ~/.ssh/known_hosts line 7. Someone may be intercepting the connection, or the server was reinstalled. If you know why, remove that line (ssh-keygen -R ${host}) and connect again.`,
        ),
      );
    }
    const hostKey = `${host}:${port}`;
    if (!this.known.has(hostKey)) {
      const answer = await this.ask({
        kind: 'hostKeyUnknown',
        id: this.promptId(),
        host,
        port,
        keyType: 'ssh-ed25519',
        fingerprint: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
        // A host named newtype.* is known by an RSA key but offers another type.
        otherKnown: host.startsWith('newtype')
          ? [{ keyType: 'ssh-rsa', fingerprint: 'SHA256:Qm9vZ3VzRmluZ2VycHJpbnRGb3JUZXN0c09ubHkwMDA', file: '~/.ssh/known_hosts', line: 3 }]
          : [],
      });
      if (answer.kind !== 'hostKey' || answer.decision === 'cancel') fail(err('cancelled', `Connecting to ${hostKey} was cancelled: the host key was not trusted.`));
      if (answer.kind === 'hostKey' && answer.decision === 'trustAndSave') this.known.add(hostKey);
    }
    if (host.startsWith('viajump')) {
      // Reached through a ProxyJump host that asks for its own password first.
      const jump = `${user}@bastion.example.com:22`;
      const answer = await this.ask({ kind: 'password', id: this.promptId(), user, host: 'bastion.example.com', port: 22, account: jump, jumpHost: true });
      if (answer.kind !== 'secret' || answer.value === null) fail(err('cancelled', `Connecting to ${label} through ${jump} was cancelled.`));
    }
    if (profile?.auth === 'password' && !profile.hasSecret) {
      const answer = await this.ask({ kind: 'password', id: this.promptId(), user, host, port, account: label, jumpHost: false });
      if (answer.kind !== 'secret' || answer.value === null) fail(err('cancelled', `Connecting to ${label} was cancelled.`));
      if (answer.kind === 'secret' && answer.value === 'wrong') fail(err('auth', `${label} refused the password. Check it and try again.`));
      if (answer.kind === 'secret' && answer.remember) profile.hasSecret = true;
    }
    if (profile?.auth === 'key' && profile.keyPath && !profile.hasSecret) {
      const answer = await this.ask({ kind: 'passphrase', id: this.promptId(), keyPath: profile.keyPath, account: label });
      if (answer.kind !== 'secret' || answer.value === null) fail(err('cancelled', `Connecting to ${label} was cancelled.`));
      if (answer.kind === 'secret' && answer.remember) profile.hasSecret = true;
    }
    const info: SessionInfo = { sessionId, label, profileId: profile?.id ?? null, startPath: profile?.remoteStart || this.remote.home };
    this.sessions.set(sessionId, info);
    this.emit({ type: 'connection', sessionId, label, state: 'connected', error: null });
    return info;
  }

  disconnect(sessionId: string) {
    return this.run('disconnect', { sessionId }, () => {
      const s = this.sessions.get(sessionId);
      if (!s) return;
      this.sessions.delete(sessionId);
      this.emit({ type: 'connection', sessionId, label: s.label, state: 'disconnected', error: null });
    });
  }

  /** Demo/test helper: the network drops and comes back. */
  simulateReconnect(sessionId: string) {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    this.emit({ type: 'connection', sessionId, label: s.label, state: 'reconnecting', error: err('network', `The connection to ${s.label} dropped; reconnecting.`) });
    setTimeout(() => this.emit({ type: 'connection', sessionId, label: s.label, state: 'connected', error: null }), 50);
  }

  /** Demo/test helper: the network drops and reconnecting gives up (the session stays until
   * the window lets it go, as in the app). */
  simulateDrop(sessionId: string) {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    this.emit({ type: 'connection', sessionId, label: s.label, state: 'reconnecting', error: null });
    setTimeout(
      () =>
        this.emit({
          type: 'connection',
          sessionId,
          label: s.label,
          state: 'disconnected',
          error: err('network', `Lost the connection to ${s.label} and could not reconnect after 5 tries (connect: refused). Check the server, then press Reconnect.`),
        }),
      50,
    );
  }

  answerPrompt(answer: PromptAnswer) {
    return this.run('answer_prompt', { answer }, () => {
      const id = answer.id;
      const resolve = this.pending.get(id);
      if (!resolve) throw err('config', 'That question was already answered or has expired.');
      this.pending.delete(id);
      resolve(answer);
    });
  }

  // -- browsing --------------------------------------------------------------------------

  homeDir() {
    return this.run('home_dir', {}, () => this.local.home);
  }

  listDir(side: Side, path: string | null, onChunk: (chunk: ListingChunk) => void): Promise<string> {
    return listingUntilDone((deliver) => this.listing(side, path, deliver), onChunk);
  }

  /** The transport under `listDir`: chunks in order, the reply before them when `lateChunks`. */
  private async listing(side: Side, path: string | null, deliver: (chunk: ListingChunk) => void): Promise<string> {
    this.record('list_dir', { side, path });
    await this.later(undefined);
    const fs = this.fs(side);
    const resolved = path === null || path === '' ? fs.home : path.length > 1 ? path.replace(/\/+$/, '') : path;
    const node = fs.dirOf(resolved, 'Listing');
    const all = fs.entries(node);
    const size = this.opts.chunkSize;
    const send = async () => {
      for (let i = 0; i === 0 || i < all.length; i += size) {
        const entries = all.slice(i, i + size);
        const done = i + size >= all.length;
        if (i > 0 || this.opts.chunkDelayMs > 0 || this.opts.lateChunks) await this.later(undefined, this.opts.chunkDelayMs);
        deliver({ path: resolved, entries, done });
      }
    };
    if (this.opts.lateChunks) void send();
    else await send();
    return resolved;
  }

  private changed(fs: MockFs, path: string) {
    if (fs !== this.local) return;
    const dirPath = parentOf(path);
    if (this.watched.has(dirPath)) setTimeout(() => this.emit({ type: 'localChanged', path: dirPath }), 0);
  }

  makeDir(side: Side, path: string) {
    return this.run('make_dir', { side, path }, () => {
      const fs = this.fs(side);
      if (fs.get(path)) throw err(side.side === 'local' ? 'localIo' : 'remote', `Creating folder ${path}: it already exists.`);
      fs.add(path, dir(nameOf(path), [], 0));
      this.changed(fs, path);
    });
  }

  renameEntry(side: Side, from: string, to: string) {
    return this.run('rename_entry', { side, from, to }, () => {
      const fs = this.fs(side);
      const n = fs.get(from);
      if (!n) throw err('notFound', `Renaming ${from}: it does not exist any more. Refresh the folder.`);
      if (fs.get(to)) throw err(side.side === 'local' ? 'localIo' : 'remote', `Renaming ${from} to ${to}: the new name is taken.`);
      fs.remove(from);
      fs.add(to, { ...n, name: nameOf(to) });
      this.changed(fs, to);
    });
  }

  deleteEntries(side: Side, paths: string[]) {
    return this.run('delete_entries', { side, paths }, () => {
      const fs = this.fs(side);
      for (const p of paths) {
        fs.remove(p);
        this.changed(fs, p);
      }
    });
  }

  changeMode(side: Side, path: string, mode: number) {
    return this.run('change_mode', { side, path, mode }, () => {
      const fs = this.fs(side);
      const n = fs.get(path);
      if (!n) throw err('notFound', `Changing permissions of ${path}: it does not exist.`);
      n.mode = mode;
      this.changed(fs, path);
    });
  }

  watchLocal(path: string) {
    return this.run('watch_local', { path }, () => {
      this.watched = new Set([path]);
    });
  }

  // -- the queue -------------------------------------------------------------------------

  enqueue(req: Enqueue) {
    return this.run('enqueue', { req }, () => {
      const session = this.sessions.get(req.sessionId);
      if (!session) throw err('network', 'The connection to the server is closed. Connect again to transfer files.');
      const upload = req.direction === 'upload';
      const srcFs = upload ? this.local : this.remote;
      const dstFs = upload ? this.remote : this.local;
      dstFs.dirOf(req.destDir, upload ? 'Uploading' : 'Downloading');
      const ids: number[] = [];
      const views: JobView[] = [];
      for (const source of req.sources) {
        const node = srcFs.get(source);
        if (!node) throw err(upload ? 'localIo' : 'notFound', `Queueing ${source}: it does not exist.`);
        const files = srcFs.files(node);
        const id = this.nextId++;
        const dest = join(req.destDir, node.name);
        const view: JobView = {
          id,
          direction: req.direction,
          name: node.name,
          host: session.label,
          localPath: upload ? source : dest,
          remotePath: upload ? dest : source,
          state: 'queued',
          error: null,
          retries: 0,
          priority: 0,
          bytesDone: 0,
          bytesTotal: files.reduce((s, f) => s + f.node.size, 0),
          filesDone: 0,
          filesTotal: files.length,
          filesFailed: 0,
        };
        this.jobs.set(id, { view, order: id, files, fileIndex: 0, fileDone: 0, askAll: null, decided: null, waiting: null, srcFs, dstFs, destDir: req.destDir, speed: 0 });
        ids.push(id);
        views.push({ ...view });
      }
      this.emit({ type: 'jobs', jobs: views });
      this.ensureTimer();
      return ids;
    });
  }

  private ensureTimer() {
    if (!this.timer) this.timer = setInterval(() => this.tick(), this.opts.tickMs);
  }

  private ordered(): MockJob[] {
    return [...this.jobs.values()].sort((a, b) => b.view.priority - a.view.priority || a.order - b.order);
  }

  private publish(job: MockJob) {
    this.emit({ type: 'jobs', jobs: [{ ...job.view }] });
  }

  private finishFile(job: MockJob) {
    const f = job.files[job.fileIndex];
    const policy = job.decided ?? 'overwrite';
    if (policy !== 'skip') {
      const target = job.dstFs.ensureParents(job.destDir, f.rel);
      let finalPath = target;
      if (policy === 'rename' && job.dstFs.get(target)) {
        let n = 1;
        while (job.dstFs.get(`${target} (${n})`)) n++;
        finalPath = `${target} (${n})`;
      }
      if (job.dstFs.get(finalPath)) job.dstFs.remove(finalPath);
      job.dstFs.add(finalPath, { ...f.node, name: nameOf(finalPath), children: undefined });
      this.changed(job.dstFs, finalPath);
    }
    job.fileIndex++;
    job.fileDone = 0;
    job.decided = null;
    job.view.filesDone++;
  }

  private tick() {
    const ordered = this.ordered();
    let running = ordered.filter((j) => j.view.state === 'running').length;
    for (const j of ordered) {
      if (running >= 2) break;
      if (j.view.state === 'queued') {
        j.view.state = 'running';
        running++;
        this.publish(j);
      }
    }
    const perTick = (this.settings.speedLimit ? Math.min(this.settings.speedLimit, this.opts.bytesPerSecond) : this.opts.bytesPerSecond) * (this.opts.tickMs / 1000);
    const progress: JobProgress[] = [];
    let movedThisTick = 0;
    for (const j of ordered) {
      if (j.view.state !== 'running') continue;
      if (j.waiting !== null) {
        progress.push(this.progressOf(j, 0));
        continue;
      }
      let budget = this.opts.demo ? perTick * (0.7 + Math.random() * 0.6) : perTick;
      const before = j.view.bytesDone;
      while (budget > 0 && j.fileIndex < j.files.length) {
        const f = j.files[j.fileIndex];
        if (j.fileDone === 0 && j.decided === null) {
          if (f.node.name.includes('fail')) {
            j.view.state = 'failed';
            j.view.filesFailed = 1;
            j.view.error = `Reading ${f.rel}: permission denied. Check the file's permissions, then retry.`;
            this.publish(j);
            break;
          }
          const target = join(j.destDir, f.rel);
          const existing = j.dstFs.get(target);
          if (existing && existing.kind !== 'dir') {
            const policy = j.askAll ?? this.settings.overwrite;
            if (policy === 'ask') {
              const question = this.nextId++;
              j.waiting = question;
              this.questions.set(question, j);
              this.emit({
                type: 'overwriteAsked',
                question,
                job: j.view.id,
                path: target,
                sourceSize: f.node.size,
                sourceMtime: f.node.mtime,
                existingSize: existing.size,
                existingMtime: existing.mtime,
              });
              break;
            }
            j.decided = this.decide(policy, f.node, existing);
          } else {
            j.decided = 'overwrite';
          }
          if (j.decided === 'skip') {
            j.view.bytesDone += f.node.size;
            this.finishFile(j);
            continue;
          }
        }
        const step = Math.min(budget, f.node.size - j.fileDone);
        j.fileDone += step;
        j.view.bytesDone += step;
        budget -= step;
        if (j.fileDone >= f.node.size) this.finishFile(j);
      }
      if (j.view.state !== 'running') continue;
      const moved = j.view.bytesDone - before;
      movedThisTick += moved;
      j.speed = j.speed === 0 ? moved / (this.opts.tickMs / 1000) : j.speed * 0.7 + 0.3 * (moved / (this.opts.tickMs / 1000));
      if (j.fileIndex >= j.files.length) {
        j.view.state = 'done';
        j.view.bytesDone = j.view.bytesTotal;
        progress.push(this.progressOf(j, 0));
        this.publish(j);
      } else {
        progress.push(this.progressOf(j, j.speed));
      }
    }
    if (progress.length > 0) {
      let done = 0;
      let total = 0;
      for (const j of this.jobs.values()) {
        done += j.view.bytesDone;
        total += j.view.bytesTotal;
      }
      this.emit({ type: 'progress', jobs: progress, bytesDone: done, bytesTotal: total, speed: movedThisTick / (this.opts.tickMs / 1000) });
    }
    if (![...this.jobs.values()].some((j) => j.view.state === 'running' || j.view.state === 'queued')) this.stop();
  }

  /** A policy applied to one existing file: what happens to it. */
  private decide(policy: Overwrite, source: Node, existing: Node): Overwrite {
    switch (policy) {
      case 'ask':
        return 'overwrite';
      case 'overwriteIfNewer':
        return source.mtime > existing.mtime ? 'overwrite' : 'skip';
      case 'overwriteIfSizeDiffers':
        return source.size !== existing.size ? 'overwrite' : 'skip';
      default:
        return policy;
    }
  }

  private progressOf(j: MockJob, speed: number): JobProgress {
    const left = j.view.bytesTotal - j.view.bytesDone;
    return {
      id: j.view.id,
      bytesDone: j.view.bytesDone,
      bytesTotal: j.view.bytesTotal,
      filesDone: j.view.filesDone,
      filesTotal: j.view.filesTotal,
      speed,
      etaSecs: speed > 0 ? left / speed : null,
    };
  }

  jobAction(id: number, action: JobAction) {
    return this.run('job_action', { id, action }, () => {
      const j = this.jobs.get(id);
      if (!j) throw err('notFound', `Job ${id} is not in the queue any more.`);
      const v = j.view;
      switch (action) {
        case 'pause':
          if (v.state === 'queued' || v.state === 'running') v.state = 'paused';
          break;
        case 'resume':
          if (v.state === 'paused') v.state = 'queued';
          break;
        case 'cancel':
          if (v.state !== 'done') v.state = 'cancelled';
          j.waiting = null;
          break;
        case 'retry':
          if (v.state === 'failed' || v.state === 'cancelled') {
            v.state = 'queued';
            v.error = null;
            v.retries++;
            v.filesFailed = 0;
          }
          break;
        case 'moveUp':
        case 'moveDown': {
          const list = this.ordered();
          const i = list.indexOf(j);
          const k = action === 'moveUp' ? i - 1 : i + 1;
          if (k >= 0 && k < list.length) {
            const other = list[k];
            [j.order, other.order] = [other.order, j.order];
          }
          break;
        }
      }
      this.publish(j);
      this.ensureTimer();
    });
  }

  queueAction(action: QueueAction) {
    return this.run('queue_action', { action }, () => {
      if (action === 'clearFinished') {
        const ids = [...this.jobs.values()].filter((j) => j.view.state === 'done' || j.view.state === 'cancelled').map((j) => j.view.id);
        for (const id of ids) this.jobs.delete(id);
        if (ids.length) this.emit({ type: 'jobsRemoved', ids });
        return;
      }
      const changed: JobView[] = [];
      for (const j of this.jobs.values()) {
        if (action === 'pauseAll' && (j.view.state === 'queued' || j.view.state === 'running')) j.view.state = 'paused';
        else if (action === 'resumeAll' && j.view.state === 'paused') j.view.state = 'queued';
        else continue;
        changed.push({ ...j.view });
      }
      if (changed.length) this.emit({ type: 'jobs', jobs: changed });
      this.ensureTimer();
    });
  }

  jobsList() {
    return this.run('jobs_list', {}, () => this.ordered().map((j) => ({ ...j.view })));
  }

  answerOverwrite(reply: OverwriteReply) {
    return this.run('answer_overwrite', { reply }, () => {
      const j = this.questions.get(reply.question);
      if (!j) throw err('config', 'That question was already answered.');
      this.questions.delete(reply.question);
      j.waiting = null;
      if (reply.choice === null) {
        j.view.state = 'cancelled';
        this.publish(j);
        return;
      }
      const f = j.files[j.fileIndex];
      const existing = j.dstFs.get(join(j.destDir, f.rel));
      j.decided = existing ? this.decide(reply.choice, f.node, existing) : 'overwrite';
      if (reply.applyToAll) j.askAll = reply.choice;
      if (j.decided === 'skip') {
        j.view.bytesDone += j.files[j.fileIndex].node.size;
        this.finishFile(j);
      }
    });
  }

  // -- settings and sandbox --------------------------------------------------------------

  queueTrouble() {
    return this.run('queue_trouble', {}, () => (this.trouble ? { ...this.trouble } : null));
  }

  queueTroubleAnswer(choice: QueueTroubleChoice) {
    return this.run('queue_trouble_answer', { choice }, () => {
      if (!this.trouble) throw err('config', 'The queue database opened normally: there is nothing to move aside.');
      // The real app restarts (or quits) here; the mock starts over with a working queue.
      if (choice !== 'quit') this.trouble = null;
    });
  }

  settingsGet() {
    return this.run('settings_get', {}, () => ({ ...this.settings }));
  }

  settingsSave(settings: Settings) {
    return this.run('settings_save', { settings }, () => {
      if (settings.filesInFlight < 1) throw err('config', 'Files in flight must be at least 1.');
      this.settings = { ...settings };
    });
  }

  sandboxStart() {
    return this.run('sandbox_start', {}, () => {
      let p = this.hosts.find((h) => h.id === this.sandboxId);
      if (!p) {
        p = { id: `h${this.nextId++}`, name: 'Local sandbox', host: '127.0.0.1', port: 2222, user: 'you', auth: 'auto', keyPath: null, localStart: null, remoteStart: null, hasSecret: false };
        this.sandboxId = p.id;
        this.hosts = [...this.hosts, p];
      }
      this.known.add('127.0.0.1:2222');
      this.emit({ type: 'sandbox', running: true, profileId: p.id });
      return { ...p };
    });
  }

  sandboxStop() {
    return this.run('sandbox_stop', {}, () => {
      this.emit({ type: 'sandbox', running: false, profileId: this.sandboxId });
    });
  }
}

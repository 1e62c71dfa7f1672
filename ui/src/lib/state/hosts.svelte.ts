// The saved hosts: the list, and adding, editing, duplicating, deleting and importing them
// (from ~/.ssh/config). Also the built-in sandbox server, which appears as a saved host.
import { toAppError, type Backend, type HostProfile } from '../backend';
import type { Asker, Reporter } from './ports';

export type HostsBackend = Pick<Backend, 'hostsList' | 'hostSave' | 'hostDelete' | 'hostDuplicate' | 'hostsImport' | 'sandboxStart'>;

export class HostsState {
  list = $state.raw<HostProfile[]>([]);
  loaded = $state(false);
  sandboxRunning = $state(false);
  private readonly backend: HostsBackend;
  private readonly reporter: Reporter;
  private readonly asker: Pick<Asker, 'confirm'>;

  constructor(backend: HostsBackend, reporter: Reporter, asker: Pick<Asker, 'confirm'>) {
    this.backend = backend;
    this.reporter = reporter;
    this.asker = asker;
  }

  find(id: string): HostProfile | undefined {
    return this.list.find((h) => h.id === id);
  }

  async load() {
    try {
      this.list = await this.backend.hostsList();
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
    this.loaded = true;
  }

  /** Saves from the editor; `secret` null leaves the keyring alone, "" empties it. False
   * (and the error shown) when the backend refused. */
  async save(profile: HostProfile, secret: string | null): Promise<boolean> {
    try {
      const saved = await this.backend.hostSave({ profile, secret });
      await this.load();
      this.reporter.notify(`Saved “${saved?.name ?? profile.name}”`);
      return true;
    } catch (e) {
      this.reporter.showError(toAppError(e));
      return false;
    }
  }

  async delete(h: HostProfile) {
    const ok = await this.asker.confirm({ title: 'Delete saved host', message: `Delete “${h.name}” (${h.user ? `${h.user}@` : ''}${h.host})? Its stored password or passphrase is removed from the keyring too.`, okLabel: 'Delete', danger: true });
    if (!ok) return;
    try {
      await this.backend.hostDelete(h.id);
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
    await this.load();
  }

  async duplicate(h: HostProfile) {
    try {
      await this.backend.hostDuplicate(h.id);
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
    await this.load();
  }

  async import() {
    const before = this.list.length;
    try {
      await this.backend.hostsImport();
    } catch (e) {
      this.reporter.showError(toAppError(e));
      return;
    }
    await this.load();
    const added = this.list.length - before;
    this.reporter.notify(added > 0 ? `Imported ${added} host${added === 1 ? '' : 's'} from ~/.ssh/config` : 'No new hosts in ~/.ssh/config');
  }

  /** Starts the sandbox server; its saved host, or null (and the error shown). */
  async startSandbox(): Promise<HostProfile | null> {
    try {
      const profile = await this.backend.sandboxStart();
      this.sandboxRunning = true;
      await this.load();
      return profile;
    } catch (e) {
      this.reporter.showError(toAppError(e));
      return null;
    }
  }

  /** The backend says the sandbox started or stopped: its host comes or goes. */
  sandboxChanged(running: boolean) {
    this.sandboxRunning = running;
    void this.load();
  }
}

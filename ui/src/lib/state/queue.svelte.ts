// The transfer queue as the window shows it: the jobs in run order, their live progress, the
// throughput of the last minute, the retry notes, the overwrite questions waiting for an
// answer, and whether the queue database opened at all. Fed by `UiEvent`s; actions go
// straight to the backend.
import { toAppError, type Backend, type JobAction, type JobProgress, type JobView, type Overwrite, type QueueTrouble, type QueueTroubleChoice, type UiEvent } from '../backend';
import type { Reporter } from './ports';

export type QueueBackend = Pick<Backend, 'jobsList' | 'jobAction' | 'queueAction' | 'answerOverwrite' | 'queueTrouble' | 'queueTroubleAnswer'>;

export type OverwriteQuestion = Extract<UiEvent, { type: 'overwriteAsked' }>;

export interface RetryNote {
  retry: number;
  /** When the retry happens (ms since epoch). */
  at: number;
  error: string;
}

export interface SpeedSample {
  /** ms since epoch. */
  t: number;
  /** Bytes per second over all jobs. */
  speed: number;
}

export type QueueFilter = 'all' | 'active' | 'failed';

/** How long the throughput graph looks back. */
export const GRAPH_WINDOW_MS = 60_000;

const FINISHED = new Set(['done', 'cancelled']);
/** States a job stops in: its destination folder may have changed. */
const STOPPED = new Set(['done', 'failed', 'cancelled']);

/**
 * Whether live progress may describe the job: it runs, or is about to (a snapshot can beat
 * the row that says it started). A paused or finished job's row is the truth: a snapshot
 * taken before it stopped must not replace the full count its `done` row brought.
 */
export function takesProgress(job: JobView | undefined): boolean {
  return job === undefined || job.state === 'running' || job.state === 'queued';
}

export function isActive(job: JobView): boolean {
  return job.state === 'queued' || job.state === 'running' || job.state === 'paused';
}

/** Run order: priority (higher first), then the order the backend gave (position). */
export function runOrder(ids: readonly number[], jobs: ReadonlyMap<number, JobView>): number[] {
  const pos = new Map(ids.map((id, i) => [id, i]));
  return ids.slice().sort((a, b) => (jobs.get(b)?.priority ?? 0) - (jobs.get(a)?.priority ?? 0) || (pos.get(a) ?? 0) - (pos.get(b) ?? 0));
}

export class QueueState {
  jobs = $state.raw(new Map<number, JobView>());
  /** Job ids in run order. */
  order = $state.raw<number[]>([]);
  progress = $state.raw(new Map<number, JobProgress>());
  retries = $state.raw(new Map<number, RetryNote>());
  /** Bytes per second over all jobs, from the last `progress` event. */
  speed = $state(0);
  bytesDone = $state(0);
  bytesTotal = $state(0);
  samples = $state.raw<SpeedSample[]>([]);
  lastProgressAt = 0;
  questions = $state.raw<OverwriteQuestion[]>([]);
  filter = $state<QueueFilter>('all');
  /** The queue database did not open: the window asks before anything is queued. */
  trouble = $state.raw<QueueTrouble | null>(null);

  all = $derived(this.order.map((id) => this.jobs.get(id)).filter((j): j is JobView => j !== undefined));
  failed = $derived(this.all.filter((j) => j.state === 'failed'));
  active = $derived(this.all.filter(isActive));
  finishedCount = $derived(this.all.reduce((n, j) => (FINISHED.has(j.state) ? n + 1 : n), 0));
  shown = $derived(this.filter === 'failed' ? this.failed : this.filter === 'active' ? this.active : this.all);

  private readonly backend: QueueBackend;
  private readonly reporter: Pick<Reporter, 'showError'>;
  private readonly onJobStopped: (job: JobView) => void;
  private idleTimer: ReturnType<typeof setInterval> | null = null;

  /** `onJobStopped` hears of every job that reached done, failed or cancelled. */
  constructor(backend: QueueBackend, reporter: Pick<Reporter, 'showError'>, onJobStopped: (job: JobView) => void) {
    this.backend = backend;
    this.reporter = reporter;
    this.onJobStopped = onJobStopped;
  }

  /** Asks the backend whether the queue database opened. */
  async loadTrouble() {
    try {
      this.trouble = await this.backend.queueTrouble();
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  /** Answers the queue-trouble dialog; throws when the backend refused (the dialog says why). */
  async answerTrouble(choice: QueueTroubleChoice) {
    await this.backend.queueTroubleAnswer(choice);
    // The app restarts (or quits); a backend that carries on has a working queue.
    this.trouble = await this.backend.queueTrouble();
  }

  async load() {
    try {
      this.replace(await this.backend.jobsList());
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  /** The whole queue from `jobs_list` (already in run order). */
  replace(list: JobView[]) {
    const jobs = new Map<number, JobView>();
    for (const j of list) jobs.set(j.id, j);
    this.jobs = jobs;
    this.order = list.map((j) => j.id);
    const progress = new Map(this.progress);
    for (const id of progress.keys()) if (!jobs.has(id)) progress.delete(id);
    this.progress = progress;
  }

  handle(event: UiEvent) {
    switch (event.type) {
      case 'jobs':
        this.upsert(event.jobs);
        break;
      case 'jobsRemoved':
        this.remove(event.ids);
        break;
      case 'progress':
        this.onProgress(event.jobs, event.bytesDone, event.bytesTotal, event.speed);
        break;
      case 'retryScheduled': {
        const retries = new Map(this.retries);
        retries.set(event.id, { retry: event.retry, at: Date.now() + event.inMs, error: event.error });
        this.retries = retries;
        break;
      }
      case 'overwriteAsked':
        // The backend re-sends open questions to a new subscriber: keep one of each.
        if (!this.questions.some((q) => q.question === event.question)) this.questions = [...this.questions, event];
        break;
    }
  }

  private upsert(list: JobView[]) {
    const jobs = new Map(this.jobs);
    const added: number[] = [];
    let retries: Map<number, RetryNote> | null = null;
    let progress: Map<number, JobProgress> | null = null;
    let reorder = false;
    for (const j of list) {
      const old = jobs.get(j.id);
      if (!old) added.push(j.id);
      else if (old.priority !== j.priority) reorder = true;
      jobs.set(j.id, j);
      if (j.state !== 'running' && this.progress.has(j.id)) {
        progress ??= new Map(this.progress);
        progress.delete(j.id);
      }
      if (j.state !== 'queued' && j.state !== 'failed' && this.retries.has(j.id)) {
        retries ??= new Map(this.retries);
        retries.delete(j.id);
      }
      if (STOPPED.has(j.state) && old?.state !== j.state) this.onJobStopped(j);
    }
    this.jobs = jobs;
    // A question of a job that stopped running will not be answered any more.
    const stopped = new Set(list.filter((j) => j.state !== 'running').map((j) => j.id));
    if (stopped.size && this.questions.some((q) => stopped.has(q.job))) this.questions = this.questions.filter((q) => !stopped.has(q.job));
    if (added.length || reorder) this.order = runOrder([...this.order, ...added], jobs);
    if (progress) this.progress = progress;
    if (retries) this.retries = retries;
  }

  private remove(ids: number[]) {
    const gone = new Set(ids);
    const jobs = new Map(this.jobs);
    for (const id of ids) jobs.delete(id);
    this.jobs = jobs;
    this.order = this.order.filter((id) => !gone.has(id));
    if (ids.some((id) => this.progress.has(id))) {
      const progress = new Map(this.progress);
      for (const id of ids) progress.delete(id);
      this.progress = progress;
    }
  }

  private onProgress(list: JobProgress[], bytesDone: number, bytesTotal: number, speed: number) {
    const progress = new Map(this.progress);
    for (const p of list) if (takesProgress(this.jobs.get(p.id))) progress.set(p.id, p);
    this.progress = progress;
    this.speed = speed;
    this.bytesDone = bytesDone;
    this.bytesTotal = bytesTotal;
    this.sample(speed);
    this.lastProgressAt = Date.now();
    this.startIdleTimer();
  }

  /** Adds a throughput sample, dropping those older than the graph's window. */
  sample(speed: number, now = Date.now()) {
    const cutoff = now - GRAPH_WINDOW_MS - 2000;
    const kept = this.samples.length && this.samples[0].t < cutoff ? this.samples.filter((s) => s.t >= cutoff) : this.samples.slice();
    kept.push({ t: now, speed });
    this.samples = kept;
  }

  /** Progress events stop when nothing runs: the graph falls to zero and keeps scrolling. */
  private startIdleTimer() {
    if (this.idleTimer) return;
    this.idleTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastProgressAt < 1000) return;
      this.speed = 0;
      this.sample(0, now);
      let lastBusy = 0;
      for (const s of this.samples) if (s.speed > 0) lastBusy = s.t;
      if (now - lastBusy > GRAPH_WINDOW_MS) {
        clearInterval(this.idleTimer!);
        this.idleTimer = null;
      }
    }, 1000);
  }

  dispose() {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
  }

  /** The live progress of a running (or starting) job; none for a paused or finished one. */
  liveProgress(job: JobView): JobProgress | undefined {
    return takesProgress(job) ? this.progress.get(job.id) : undefined;
  }

  /** Percent shown for a job (live progress when running). */
  percentOf(job: JobView): number {
    if (job.state === 'done') return 100;
    const p = this.liveProgress(job);
    const done = p?.bytesDone ?? job.bytesDone;
    const total = p?.bytesTotal ?? job.bytesTotal;
    if (total <= 0) return 0;
    return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
  }

  async act(id: number, action: JobAction) {
    try {
      await this.backend.jobAction(id, action);
      if (action === 'moveUp' || action === 'moveDown') await this.load();
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  async clearFinished() {
    try {
      await this.backend.queueAction('clearFinished');
      await this.load();
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  async pauseAll() {
    await this.queueAction('pauseAll');
  }

  async resumeAll() {
    await this.queueAction('resumeAll');
  }

  private async queueAction(action: 'pauseAll' | 'resumeAll') {
    try {
      await this.backend.queueAction(action);
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  /** Answers the first waiting question; `choice` null cancels the job. */
  async answer(question: OverwriteQuestion, choice: Overwrite | null, applyToAll: boolean) {
    this.questions = this.questions.filter((q) => q.question !== question.question);
    try {
      await this.backend.answerOverwrite({ question: question.question, choice, applyToAll });
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
    if (applyToAll && choice !== null) {
      // The engine applies the answer to the rest of that job: drop its other questions.
      const others = this.questions.filter((q) => q.job === question.job);
      this.questions = this.questions.filter((q) => q.job !== question.job);
      for (const q of others) {
        try {
          await this.backend.answerOverwrite({ question: q.question, choice, applyToAll: true });
        } catch {
          /* already settled by the engine */
        }
      }
    }
  }
}

/**
 * Request/reply over a child process's IPC channel: the orchestrator calls
 * named commands of the server and load-client processes and awaits replies.
 */
import type { ChildProcess } from 'node:child_process';

/** The commands one process answers: each takes one argument. */
export type Handlers = Record<string, (args: never) => unknown>;

type Request = { readonly id: number; readonly command: string; readonly args: unknown };
type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** In a child: answers the parent's requests; a failed command replies with its error. */
export function serve(handlers: Handlers): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this process must be started with an IPC channel');
  process.on('message', (message: Request) => {
    const handler = handlers[message.command] as ((args: unknown) => unknown) | undefined;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.command}`);
        return handler(message.args);
      })
      .then(
        (value) => send({ id: message.id, ok: true, value } satisfies Reply),
        (error: unknown) =>
          send({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Reply),
      );
  });
  // The parent going away ends the child.
  process.on('disconnect', () => process.exit(0));
}

/** In the parent: calls a child's commands. */
export class Peer<THandlers extends Handlers> {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 0;

  constructor(readonly name: string, child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(new Error(`${name}: ${reply.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`${name} exited (${signal ?? code}) with a command pending`));
      }
      this.#pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  call<K extends keyof THandlers & string>(
    command: K,
    args: Parameters<THandlers[K]>[0],
  ): Promise<Awaited<ReturnType<THandlers[K]>>> {
    const id = (this.#nextId += 1);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.send({ id, command, args } satisfies Request);
    });
  }

  /**
   * Ends the process and waits for it to exit: closing the channel lets it
   * exit normally (so a CPU profile is written); a signal follows if not.
   */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    if (this.#child.connected) this.#child.disconnect();
    const term = setTimeout(() => this.#child.kill('SIGTERM'), 10_000);
    const kill = setTimeout(() => this.#child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

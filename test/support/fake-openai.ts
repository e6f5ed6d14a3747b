/**
 * A real HTTP server on 127.0.0.1 that speaks OpenAI's Chat Completions
 * protocol (`POST /v1/chat/completions`, streamed as SSE or not), answering
 * each request with the next scripted reply and recording what it received.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { z } from 'zod';

const ChatRequestSchema = z.looseObject({
  model: z.string(),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  messages: z.array(z.looseObject({ role: z.string(), content: z.string() })),
  response_format: z.unknown().optional(),
});
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

export type RecordedRequest = {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: ChatRequest;
  /** `performance.now()` when it arrived. */
  readonly receivedAt: number;
};

export type Usage = {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
};

export type AnswerOptions = {
  /** Characters of content per streamed chunk. @default 6 */
  readonly chunkSize?: number;
  /** The last chunk's finish reason. @default 'stop' */
  readonly finishReason?: 'stop' | 'length' | 'content_filter' | null;
  /** After the content: finish normally, destroy the socket, or send nothing more. @default 'done' */
  readonly end?: 'done' | 'cut' | 'hang';
  /** Hold the stream once `at` characters of content are out, until `until` settles. */
  readonly holds?: readonly { readonly at: number; readonly until: Promise<unknown> }[];
  /** Sent in the final chunk when the request asks for usage. */
  readonly usage?: Usage;
};

export type FakeReply =
  | {
      readonly kind: 'answer';
      readonly content: string;
      readonly refusal: string;
      readonly options: AnswerOptions;
    }
  | { readonly kind: 'completion'; readonly content: string }
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly message: string;
    }
  | { readonly kind: 'hang' };

export const DEFAULT_USAGE: Usage = { prompt_tokens: 120, completion_tokens: 80, total_tokens: 200 };

/** Builders for scripted replies. */
export const reply = {
  /** The model's answer, streamed in small chunks (or whole, if the request does not stream). */
  answer: (content: string, options: AnswerOptions = {}): FakeReply => ({
    kind: 'answer',
    content,
    refusal: '',
    options,
  }),
  /** A JSON answer. */
  json: (value: unknown, options: AnswerOptions = {}): FakeReply =>
    reply.answer(JSON.stringify(value), options),
  /** The model declines: refusal deltas instead of content. */
  refusal: (text: string): FakeReply => ({ kind: 'answer', content: '', refusal: text, options: {} }),
  /** A whole `chat.completion` JSON body, even when the request asked for a stream. */
  completion: (content: string): FakeReply => ({ kind: 'completion', content }),
  /** An HTTP error with OpenAI's error body. */
  error: (
    status: number,
    options: { readonly headers?: Record<string, string>; readonly message?: string } = {},
  ): FakeReply => ({
    kind: 'error',
    status,
    headers: options.headers ?? {},
    message: options.message ?? `fake error ${status}`,
  }),
  /** Accepts the request and never answers. */
  hang: (): FakeReply => ({ kind: 'hang' }),
};

export type FakeOpenAI = AsyncDisposable & {
  /** For `OPENAI_BASE_URL`: `http://127.0.0.1:PORT/v1`. */
  readonly baseURL: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Adds replies to the queue; each request takes the next one (500 when none is left). */
  readonly enqueue: (...replies: FakeReply[]) => void;
  /** The service's environment for this fake, with small bounds; `extra` overrides. */
  readonly env: (extra?: Record<string, string>) => Record<string, string>;
  readonly close: () => Promise<void>;
};

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const receivedAt = performance.now();
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return sendJson(res, 404, {
        error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' },
      });
    }
    const parsed = ChatRequestSchema.safeParse(safeJson(raw));
    if (!parsed.success) {
      return sendJson(res, 400, {
        error: { message: z.prettifyError(parsed.error), type: 'invalid_request_error' },
      });
    }
    const body = parsed.data;
    requests.push({ method: req.method, path: req.url, headers: req.headers, body, receivedAt });
    const next = queue.shift() ?? reply.error(500, { message: 'the fake has no scripted reply left' });
    switch (next.kind) {
      case 'hang':
        return;
      case 'error':
        res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
        res.end(JSON.stringify({ error: { message: next.message, type: 'server_error', code: null } }));
        return;
      case 'completion':
        return sendJson(res, 200, completion(body.model, next.content));
      case 'answer':
        if (!body.stream) return sendJson(res, 200, completion(body.model, next.content));
        return streamAnswer(res, body, next);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseURL = `http://127.0.0.1:${port}/v1`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Held and hanging replies never end by themselves.
      for (const socket of sockets) socket.destroy();
    }));

  return {
    baseURL,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    env: (extra = {}) => ({
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: baseURL,
      OPENAI_MODEL: 'fake-model',
      OPENAI_TIMEOUT_MS: '5000',
      OPENAI_MAX_RETRIES: '0',
      ...extra,
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function streamAnswer(
  res: http.ServerResponse,
  request: ChatRequest,
  answer: Extract<FakeReply, { kind: 'answer' }>,
): Promise<void> {
  const {
    chunkSize = 6,
    finishReason = 'stop',
    end = 'done',
    holds = [],
    usage = DEFAULT_USAGE,
  } = answer.options;
  const withUsage = request.stream_options?.include_usage === true;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {}),
    })}\n\n`;

  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write(chunk({ role: 'assistant', content: '' }));
  const stops = [...holds].sort((a, b) => a.at - b.at);
  let sent = 0;
  for (const stop of [...stops, { at: answer.content.length, until: Promise.resolve() }]) {
    for (; sent < stop.at; sent = Math.min(stop.at, sent + chunkSize)) {
      res.write(chunk({ content: answer.content.slice(sent, Math.min(stop.at, sent + chunkSize)) }));
    }
    await stop.until;
  }
  for (let i = 0; i < answer.refusal.length; i += chunkSize) {
    res.write(chunk({ refusal: answer.refusal.slice(i, i + chunkSize) }));
  }
  if (end === 'hang') return;
  if (end === 'cut') {
    // Close the connection mid-stream; `end` first flushes what was written, so the cut point is exact.
    res.socket?.end();
    return;
  }
  res.write(chunk({}, finishReason));
  if (withUsage) {
    res.write(
      `data: ${JSON.stringify({
        id: 'chatcmpl-fake',
        object: 'chat.completion.chunk',
        created: Math.floor(Date.now() / 1000),
        model: request.model,
        choices: [],
        usage,
      })}\n\n`,
    );
  }
  res.end('data: [DONE]\n\n');
}

function completion(model: string, content: string) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: DEFAULT_USAGE,
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  req.setEncoding('utf8');
  let text = '';
  for await (const part of req) text += String(part);
  return text;
}

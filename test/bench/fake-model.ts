/**
 * A loopback stand-in for the model: an OpenAI-compatible Chat Completions
 * endpoint on 127.0.0.1 that answers every request at once with a valid
 * profile, as a whole or streamed in chunks when the request asks for it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const PROFILE = JSON.stringify({
  bio: 'A cheerful companion who loves long walks and quiet evenings.',
  breedGuess: 'Mixed breed',
  temperamentTags: ['friendly', 'playful', 'calm'],
  adopterHints: 'Best with an adopter who enjoys daily walks.',
});

export type FakeModel = { readonly baseUrl: string; readonly requests: () => number; readonly close: () => Promise<void> };

export async function startFakeModel(): Promise<FakeModel> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests += 1;
      const stream = (JSON.parse(body || '{}') as { stream?: boolean }).stream === true;
      const base = { id: `chatcmpl-${requests}`, created: Math.floor(Date.now() / 1000), model: 'fake' };
      if (!stream) {
        const answer = {
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: PROFILE, refusal: null }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 50, completion_tokens: 40, total_tokens: 90 },
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] })}\n\n`;
      const pieces = PROFILE.match(/.{1,40}/gs) ?? [PROFILE];
      res.write(chunk({ role: 'assistant', content: '' }, null));
      for (const piece of pieces) res.write(chunk({ content: piece }, null));
      res.write(chunk({}, 'stop'));
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

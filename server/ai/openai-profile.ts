import OpenAI from 'openai';

import { ProfileSchema, type Pet, type Profile } from '../../shared/pet.js';
import { EnrichmentFailed, type GenerateOptions, type ProfileGenerator } from './profile-generator.js';
import { SYSTEM_PROMPT, petAsModelInput } from './prompt.js';

export type OpenAIProfileOptions = {
  readonly apiKey: string;
  readonly baseURL?: string | undefined;
  readonly model: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
};

/** Profiles from any OpenAI-compatible Chat Completions server, in JSON mode. */
export class OpenAIProfileGenerator implements ProfileGenerator {
  readonly #client: OpenAI;
  readonly #model: string;

  constructor(options: OpenAIProfileOptions) {
    this.#client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
    this.#model = options.model;
  }

  async generate(pet: Pet, { signal, logger }: GenerateOptions): Promise<Profile> {
    const started = performance.now();
    const completion = await this.#client.chat.completions.create(
      {
        model: this.#model,
        response_format: { type: 'json_object' },
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: petAsModelInput(pet) },
        ],
      },
      { signal },
    );
    logger.info(
      {
        model: this.#model,
        latencyMs: Math.round(performance.now() - started),
        usage: completion.usage,
      },
      'Model call finished',
    );
    const choice = completion.choices[0];
    if (!choice?.message.content) {
      throw new EnrichmentFailed(choice?.message.refusal ? 'model refused' : 'empty answer');
    }
    let json: unknown;
    try {
      json = JSON.parse(choice.message.content);
    } catch (error) {
      throw new EnrichmentFailed('answer is not JSON', { cause: error });
    }
    const parsed = ProfileSchema.safeParse(json);
    if (!parsed.success) throw new EnrichmentFailed('answer does not match the profile schema', { cause: parsed.error });
    return parsed.data;
  }
}

/** The demo's command line, validated: what to do, where, and how to show it. */
import { PetInputSchema, type PetInput } from '../shared/pet.js';
import { TraceIdSchema } from '../shared/trace-id.js';
import { TRANSPORTS, type Transport } from './create-client.js';

/** The flags as `node:util` parseArgs returns them. */
export type DemoFlags = {
  readonly name?: string | undefined;
  readonly species?: string | undefined;
  readonly age?: string | undefined;
  readonly symptom?: readonly string[] | undefined;
  readonly weight?: string | undefined;
  readonly url?: string | undefined;
  readonly transport?: string | undefined;
  readonly watch?: string | undefined;
  readonly token?: string | undefined;
  readonly 'api-key'?: string | undefined;
  readonly treat?: boolean | undefined;
  readonly vet?: string | undefined;
  readonly note?: string | undefined;
  readonly json?: boolean | undefined;
  readonly help?: boolean | undefined;
};

/** What the vet answers a treatment that waits (`--vet`), or `cancel` to cancel it. */
export const VET_CHOICES = ['clear', 'keep', 'cancel'] as const;
export type VetChoice = (typeof VET_CHOICES)[number];

/** The vet's note when `--note` is not given. */
export const DEFAULT_NOTE = 'Checked from the demo';

export type DemoOptions = {
  readonly url: string;
  readonly transport: Transport;
  readonly json: boolean;
  /** Sent with every call, for servers that require API keys. */
  readonly apiKey: string | undefined;
  readonly task:
    | {
        readonly kind: 'create';
        readonly pet: PetInput;
        /** After its creation, treat the pet (when ill): the vet's answer, or null to ask or wait for one. */
        readonly treatment: { readonly vet: VetChoice | null; readonly note: string } | null;
      }
    | { readonly kind: 'watch'; readonly traceId: string; readonly token: string };
};

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** What the demo creates when no pet flag is given: the seed's first example. */
export const DEFAULT_PET: PetInput = { name: 'Max', species: 'dog', ageMonths: 24, symptoms: ['coughing'] };

const PET_FLAGS = ['name', 'species', 'age', 'symptom', 'weight'] as const;

export const DEMO_USAGE = `Creates a pet and shows its workflow live, or attaches to a running one.
Start the server first (npm start), then:

  npm run demo
  npm run demo -- --name Luna --species cat --age 18 --symptom sneezing
  npm run demo -- --watch <traceId> --token <streamToken>
  npm run demo -- --treat --vet clear --note "Lungs clear"

Without pet flags it creates the seed's Max (dog, 24 months, coughing); with
any, --name, --species and --age are required.

  --name <text>        the pet's name
  --species <kind>     dog, cat, bird or other
  --age <months>       age in months, 0-600
  --symptom <text>     a symptom; repeat the flag for several
  --weight <kg>        weight in kg (optional)
  --watch <traceId>    attach to an existing workflow instead (needs --token)
  --token <token>      the stream token pets.create answered with
  --url <url>          the server (default ${DEFAULT_URL})
  --transport ws|sse   how live events travel (default ws)
  --treat              then treat the pet (if ill): the treatment waits for a vet
  --vet clear|keep|cancel
                       the vet's answer when it waits (default: asked on a
                       terminal; otherwise answer from the workbench)
  --note <text>        the vet's note (default "${DEFAULT_NOTE}")
  --api-key <key>      for servers that set API_KEYS
  --json               one JSON object per line, for scripts
  --help               this text

Exit status: 0 when the workflow finished, 1 on an error (no server, token
rejected, workflow gone), 2 on bad flags or input, 130 when interrupted.`;

/** Thrown for flags that cannot run; its message names every bad flag. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Pet fields as the flags that set them. */
const FLAG_OF: Readonly<Record<string, string>> = {
  name: '--name',
  species: '--species',
  ageMonths: '--age',
  weightKg: '--weight',
  symptoms: '--symptom',
};

export function demoOptions(flags: DemoFlags): DemoOptions {
  const url = flags.url ?? DEFAULT_URL;
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url: must be an http(s) URL, got "${url}"`);
  const transport = TRANSPORTS.find((t) => t === (flags.transport ?? 'ws'));
  if (!transport)
    throw new UsageError(`--transport: must be one of ${TRANSPORTS.join(', ')}, got "${flags.transport}"`);
  const json = flags.json ?? false;
  const apiKey = flags['api-key'];

  const treatFlags = (['treat', 'vet', 'note'] as const).filter((f) => flags[f] !== undefined);
  if (flags.watch !== undefined || flags.token !== undefined) {
    if (treatFlags.length > 0)
      throw new UsageError(
        `--watch attaches to an existing workflow: drop ${treatFlags.map((f) => `--${f}`).join(', ')}`,
      );
    const petFlags = PET_FLAGS.filter((f) => flags[f] !== undefined);
    if (petFlags.length > 0) {
      throw new UsageError(
        `--watch attaches to an existing workflow: drop ${petFlags.map((f) => `--${f}`).join(', ')}`,
      );
    }
    if (flags.watch === undefined) throw new UsageError('--token goes with --watch <traceId>');
    if (!TraceIdSchema.safeParse(flags.watch).success) {
      throw new UsageError(`--watch: must be a trace id (32 lowercase hex characters), got "${flags.watch}"`);
    }
    if (!flags.token) throw new UsageError('--watch needs --token <streamToken>');
    return {
      url,
      transport,
      json,
      apiKey,
      task: { kind: 'watch', traceId: flags.watch, token: flags.token },
    };
  }
  const pet = PET_FLAGS.some((f) => flags[f] !== undefined) ? petInput(flags) : DEFAULT_PET;
  return { url, transport, json, apiKey, task: { kind: 'create', pet, treatment: treatment(flags) } };
}

function treatment(flags: DemoFlags): { readonly vet: VetChoice | null; readonly note: string } | null {
  if (!flags.treat) {
    if (flags.vet !== undefined || flags.note !== undefined)
      throw new UsageError('--vet and --note go with --treat');
    return null;
  }
  const vet = flags.vet === undefined ? null : (VET_CHOICES.find((choice) => choice === flags.vet) ?? null);
  if (flags.vet !== undefined && vet === null)
    throw new UsageError(`--vet: must be one of ${VET_CHOICES.join(', ')}, got "${flags.vet}"`);
  const note = (flags.note ?? DEFAULT_NOTE).trim();
  if (note.length === 0 || note.length > 500) throw new UsageError('--note: must be 1 to 500 characters');
  return { vet, note };
}

function petInput(flags: DemoFlags): PetInput {
  const problems: string[] = [];
  const number = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      problems.push(`${flag}: must be a number, got "${text}"`);
      return undefined;
    }
    return value;
  };
  const ageMonths = number('--age', flags.age);
  const weightKg = number('--weight', flags.weight);
  const candidate = {
    name: flags.name,
    species: flags.species,
    ageMonths,
    ...(weightKg === undefined ? {} : { weightKg }),
    ...(flags.symptom && flags.symptom.length > 0 ? { symptoms: [...flags.symptom] } : {}),
  };
  const parsed = PetInputSchema.safeParse(candidate);
  if (parsed.success && problems.length === 0) return parsed.data;
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const field = String(issue.path[0] ?? '');
    const flag = FLAG_OF[field] ?? field;
    // A number flag that did not parse is reported once, as such.
    if (problems.some((p) => p.startsWith(`${flag}:`))) continue;
    const missing = candidate[field as keyof typeof candidate] === undefined;
    problems.push(`${flag}: ${missing ? 'is required' : issue.message}`);
  }
  throw new UsageError(`invalid input: ${problems.join('; ')}`);
}

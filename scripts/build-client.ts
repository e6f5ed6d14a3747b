/**
 * `npm run build:client`: builds the installable client package in client/
 * (`@pet-stream/client`) into client/dist:
 * - dist/js: the JavaScript of client/ and the shared/ modules it imports,
 *   one file per module (the router is a type-only import: no server code);
 * - dist/index.d.ts: the entry's declarations in one self-contained file,
 *   the router's type included, with the server's context type (engine
 *   internals no client reads) replaced by `object`;
 * - dist/react.d.ts: the React entry's, which import the entry's.
 * It fails when the output imports a Node module or anything the package
 * does not depend on.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateDtsBundle } from 'dts-bundle-generator';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PACKAGE = path.join(ROOT, 'client');
const DIST = path.join(PACKAGE, 'dist');
/** Declarations of the whole type graph, server included, before bundling; inside the repository so packages resolve. */
const STAGING = path.join(DIST, '.declarations');
const ENTRIES = ['client/index.ts', 'client/react.ts'];
/** The only directories whose JavaScript ships. */
const SHIPPED = ['client', 'shared'];

/** `ctx: import("…/engine/index.js").Context` in the router's declaration. */
const SERVER_CONTEXT = /import\("(?:\.\.\/)+(?:server\/)?engine\/index\.js"\)\.Context\b/g;

export async function buildClient(): Promise<void> {
  await rm(DIST, { recursive: true, force: true });
  const emitted = emit();
  const shipped = runtimeClosure(emitted);
  await Promise.all(
    emitted
      .filter((file) => file.path.endsWith('.d.ts') || shipped.has(file.path))
      .map((file) => writeOut(file.path, file.text)),
  );

  try {
    await bundleDeclarations();
  } finally {
    await rm(STAGING, { recursive: true, force: true });
  }
  await checkImports();
}

/** index.d.ts bundled from the staged declarations; react.d.ts as emitted (it imports index's). */
async function bundleDeclarations(): Promise<void> {
  const stagedEntry = path.join(STAGING, 'client/index.d.ts');
  const [bundle] = generateDtsBundle(
    [{ filePath: stagedEntry, output: { noBanner: true, exportReferencedTypes: false } }],
    { preferredConfigPath: await stagingConfig() },
  );
  if (bundle === undefined) throw new Error('no declaration bundle was generated');
  await writeOut(path.join(DIST, 'index.d.ts'), bundle);
  await writeOut(
    path.join(DIST, 'react.d.ts'),
    await readFile(path.join(STAGING, 'client/react.d.ts'), 'utf8'),
  );
}

type Output = { readonly path: string; readonly text: string };

/** Compiles the entries: JavaScript of client/ and shared/ to dist/js, every declaration to the staging area. */
function emit(): Output[] {
  const options: ts.CompilerOptions = {
    ...compilerOptions(),
    noEmit: false,
    declaration: true,
    rootDir: ROOT,
    outDir: STAGING,
    // The package runs in browsers: no Node globals in its types.
    types: [],
  };
  const program = ts.createProgram(
    ENTRIES.map((entry) => path.join(ROOT, entry)),
    options,
  );
  const outputs: Output[] = [];
  const result = program.emit(undefined, (file, text) => {
    const relative = path.relative(STAGING, file);
    if (file.endsWith('.d.ts')) outputs.push({ path: file, text: text.replace(SERVER_CONTEXT, 'object') });
    else if (isShipped(relative)) outputs.push({ path: path.join(DIST, 'js', relative), text });
  });
  // The package's own modules are checked whole; the server's only as far as their declarations need.
  const own = program.getSourceFiles().filter((file) => isShipped(path.relative(ROOT, file.fileName)));
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...own.flatMap((file) => [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ]),
    ...result.diagnostics,
  ];
  if (diagnostics.length > 0) {
    throw new Error(
      ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (name) => name,
        getCurrentDirectory: () => ROOT,
        getNewLine: () => '\n',
      }),
    );
  }
  return outputs;
}

function isShipped(relative: string): boolean {
  return SHIPPED.some((dir) => relative.startsWith(`${dir}${path.sep}`));
}

/** The JavaScript the entries load at run time: a module reached only through types is left out. */
function runtimeClosure(outputs: readonly Output[]): Set<string> {
  const byPath = new Map(outputs.map((file) => [file.path, file.text]));
  const reached = new Set<string>();
  const visit = (file: string) => {
    const text = byPath.get(file);
    if (text === undefined || reached.has(file)) return;
    reached.add(file);
    for (const specifier of importedSpecifiers(text))
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier));
  };
  for (const entry of ENTRIES) visit(path.join(DIST, 'js', entry.replace(/\.ts$/, '.js')));
  return reached;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const read: { readonly config?: unknown } = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT).options;
}

async function stagingConfig(): Promise<string> {
  const file = path.join(STAGING, 'tsconfig.json');
  const config = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023', 'DOM'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: true,
      types: [],
    },
    files: ['client/index.d.ts'],
  };
  await writeOut(file, JSON.stringify(config));
  return file;
}

async function writeOut(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

/** Every bare import of the output is a dependency (or peer) of the package; no Node module, no server path. */
async function checkImports(): Promise<void> {
  const manifest = JSON.parse(await readFile(path.join(PACKAGE, 'package.json'), 'utf8')) as {
    readonly dependencies?: Record<string, string>;
    readonly peerDependencies?: Record<string, string>;
  };
  const allowed = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const files = await listFiles(DIST);
  const problems: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const specifier of importedSpecifiers(text)) {
      const bare = !specifier.startsWith('.');
      const name = specifier.startsWith('@')
        ? specifier.split('/').slice(0, 2).join('/')
        : (specifier.split('/')[0] ?? '');
      const outside = !bare && !path.resolve(path.dirname(file), specifier).startsWith(DIST);
      if (bare ? !allowed.has(name) : outside || specifier.includes('server/'))
        problems.push(`${path.relative(PACKAGE, file)} imports ${specifier}`);
    }
  }
  if (problems.length > 0)
    throw new Error(`The client package reaches outside itself:\n${problems.join('\n')}`);
}

function importedSpecifiers(text: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;
  return [...text.matchAll(pattern)].map((match) => match[1] ?? '');
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildClient();

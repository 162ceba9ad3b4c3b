import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { recordingKysely, type Recording, type RowMode } from './recording-kysely.js';
import { ArgumentSynthesizer, UNDEFINED, type RunContext, type Variant } from './synthesize-arguments.js';

/** What one public method issued over all its runs. */
export interface MethodRecording {
  readonly name: string;
  readonly parameters: readonly string[];
  /** Every distinct statement, in the order the runs first issued it. */
  readonly statements: readonly string[];
  /** Distinct errors the default arguments' runs ended with, and under which answers (see MODE_LABELS). */
  readonly throws: readonly string[];
}

/** One repository class, built with one choice of its constructor's table-selecting literals. */
export interface RepositoryRecording {
  /** `Name`, or `Name('audit_events')` when a string-literal parameter of the constructor selects a table. */
  readonly title: string;
  readonly methods: readonly MethodRecording[];
}

const ROW_MODES: readonly RowMode[] = ['empty', 'one-row', 'empty-first'];
const MODE_LABELS: Record<RowMode, string> = {
  empty: 'with no rows',
  'one-row': 'with a row',
  'empty-first': 'with no row, then rows',
};
/**
 * A run that has not settled by then (a callback that never resolves, a retry loop) is reported, not awaited. Runs
 * take milliseconds: the margin keeps a loaded machine (CI) from reporting a snapshot stale that is not.
 */
const RUN_TIMEOUT_MS = 30_000;

function isPublicMethod(member: ts.ClassElement): member is ts.MethodDeclaration & { name: ts.Identifier } {
  const modifiers = ts.canHaveModifiers(member) ? ts.getModifiers(member) : undefined;
  const hidden = modifiers?.some((modifier) =>
    [ts.SyntaxKind.PrivateKeyword, ts.SyntaxKind.ProtectedKeyword, ts.SyntaxKind.StaticKeyword].includes(
      modifier.kind,
    ),
  );
  return (
    ts.isMethodDeclaration(member) &&
    member.body !== undefined &&
    ts.isIdentifier(member.name) &&
    !member.name.text.startsWith('_') &&
    hidden !== true
  );
}

type PublicMethod = ts.MethodDeclaration & { name: ts.Identifier };

/**
 * The public methods of a repository class in source order, then those it inherits and does not override (a
 * repository per plane over one shared table shape, e.g. refresh tokens, keeps its SQL in a base class).
 */
function publicMethods(declaration: ts.ClassDeclaration, checker: ts.TypeChecker): PublicMethod[] {
  const methods = declaration.members.filter(isPublicMethod);
  const names = new Set(methods.map((method) => method.name.text));
  const base = declaration.heritageClauses?.find((clause) => clause.token === ts.SyntaxKind.ExtendsKeyword)
    ?.types[0]?.expression;
  let symbol = base && checker.getSymbolAtLocation(base);
  // An imported base class is an alias of the declaring module's symbol.
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  const baseDeclaration = symbol?.declarations?.find(ts.isClassDeclaration);
  if (!baseDeclaration) return methods;
  const inherited = publicMethods(baseDeclaration, checker).filter((method) => !names.has(method.name.text));
  return [...methods, ...inherited];
}

/** The exported classes of a file that are repositories: every one in a `*.repository.ts`, else `*Repository`. */
export function repositoryClasses(source: ts.SourceFile): ts.ClassDeclaration[] {
  const everyClass = source.fileName.endsWith('.repository.ts');
  return source.statements.filter(
    (statement): statement is ts.ClassDeclaration =>
      ts.isClassDeclaration(statement) &&
      statement.name !== undefined &&
      ts.getModifiers(statement)?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword) ===
        true &&
      (everyClass || statement.name.text.endsWith('Repository')),
  );
}

/** Argument lists for a run each: the defaults, then each parameter's alternatives one at a time. */
function argumentLists(parameters: readonly Variant[][]): Variant[][] {
  const defaults = parameters.map((variants) => variants[0] ?? UNDEFINED);
  const lists = [defaults];
  parameters.forEach((variants, index) => {
    for (const variant of variants.slice(1)) lists.push(defaults.map((d, i) => (i === index ? variant : d)));
  });
  return lists;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code: unknown = Reflect.get(error, 'code');
  const name = typeof code === 'string' ? `${error.constructor.name} ${code}` : error.constructor.name;
  return `${name}: ${error.message.split('\n')[0] ?? ''}`;
}

async function settle(result: unknown): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.resolve(result), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every combination of the constructor's string-literal unions (one section each), with the other defaults. */
function constructorChoices(
  declaration: ts.ClassDeclaration,
  synthesizer: ArgumentSynthesizer,
): { title: string; args: Variant[] }[] {
  const name = declaration.name?.text ?? 'default';
  const constructor = declaration.members.find(ts.isConstructorDeclaration);
  let choices: { labels: string[]; args: Variant[] }[] = [{ labels: [], args: [] }];
  for (const parameter of constructor?.parameters ?? []) {
    const literals = synthesizer.stringLiterals(parameter);
    const options = literals
      ? literals.map((literal) => ({
          label: `'${literal}'`,
          variant: { build: () => literal, kind: 'value' as const },
        }))
      : [{ label: undefined, variant: synthesizer.parameter(parameter)[0] ?? UNDEFINED }];
    choices = choices.flatMap((choice) =>
      options.map((option) => ({
        labels: option.label === undefined ? choice.labels : [...choice.labels, option.label],
        args: [...choice.args, option.variant],
      })),
    );
  }
  return choices.map((choice) => ({
    title: choice.labels.length > 0 ? `${name}(${choice.labels.join(', ')})` : name,
    args: choice.args,
  }));
}

async function recordMethod(
  construct: (context: RunContext) => object,
  method: PublicMethod,
  synthesizer: ArgumentSynthesizer,
): Promise<MethodRecording> {
  const statements = new Set<string>();
  const throws = new Set<string>();
  const lists = argumentLists(method.parameters.map((parameter) => synthesizer.parameter(parameter)));
  for (const [index, args] of lists.entries()) {
    for (const mode of ROW_MODES) {
      const recording: Recording = { statements: [] };
      const context: RunContext = { db: recordingKysely(recording, mode) };
      const instance = construct(context);
      const callable: unknown = Reflect.get(instance, method.name.text);
      try {
        if (typeof callable !== 'function')
          throw new Error(`${method.name.text} is not a method at run time`);
        await settle(
          Reflect.apply(
            callable,
            instance,
            args.map((arg) => arg.build(context)),
          ),
        );
      } catch (error) {
        // The defaults' only: other arguments would list the same error once per placeholder in its message.
        // A run of one statement under `empty-first` was the `empty` run again.
        const repeated = mode === 'empty-first' && recording.statements.length <= 1;
        if (index === 0 && !repeated) throws.add(`${MODE_LABELS[mode]}: throws ${describeError(error)}`);
      }
      for (const statement of recording.statements) statements.add(statement);
    }
  }
  return {
    name: method.name.text,
    parameters: method.parameters.map((parameter) => parameter.name.getText()),
    statements: [...statements],
    throws: [...throws].sort(),
  };
}

/**
 * Runs every public method of every repository class of `source` against recording Kyselys, with arguments
 * synthesized from its signature, and returns what each issued. The module is imported for real (through tsx).
 */
export async function recordRepositories(
  source: ts.SourceFile,
  checker: ts.TypeChecker,
): Promise<RepositoryRecording[]> {
  const synthesizer = new ArgumentSynthesizer(checker);
  const module: unknown = await import(pathToFileURL(source.fileName).href);
  if (typeof module !== 'object' || module === null) throw new Error(`${source.fileName} is not a module`);
  const recordings: RepositoryRecording[] = [];
  for (const declaration of repositoryClasses(source)) {
    const className = declaration.name?.text ?? 'default';
    const constructor: unknown = Reflect.get(module, className);
    if (typeof constructor !== 'function') throw new Error(`${source.fileName} does not export ${className}`);
    const methods = publicMethods(declaration, checker);
    const seen = new Set<string>();
    for (const choice of constructorChoices(declaration, synthesizer)) {
      const construct = (context: RunContext): object => {
        const instance: unknown = Reflect.construct(
          constructor,
          choice.args.map((arg) => arg.build(context)),
        );
        if (typeof instance !== 'object' || instance === null)
          throw new Error(`${className} built no object`);
        return instance;
      };
      const recorded: MethodRecording[] = [];
      for (const method of methods) {
        if (seen.has(`${choice.title}.${method.name.text}`)) continue; // an overload's implementation
        seen.add(`${choice.title}.${method.name.text}`);
        recorded.push(await recordMethod(construct, method, synthesizer));
      }
      recordings.push({ title: choice.title, methods: recorded });
    }
  }
  return recordings;
}

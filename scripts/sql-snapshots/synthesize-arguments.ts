import ts from 'typescript';
import type { Kysely } from 'kysely';

/** What one run builds its arguments from: the recording Kysely every database parameter receives. */
export interface RunContext {
  readonly db: Kysely<unknown>;
}

/** One way to fill a parameter: built afresh for every run (a run has its own recording Kysely). */
export interface Variant {
  readonly build: (context: RunContext) => unknown;
  readonly kind: 'value' | 'null' | 'undefined';
}

const DATABASE_TYPES = new Set(['Kysely', 'Transaction', 'ControlledTransaction']);
const NULLISH = ts.TypeFlags.Null | ts.TypeFlags.Undefined | ts.TypeFlags.Void;
const PRIMITIVE =
  ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike | ts.TypeFlags.BigIntLike | ts.TypeFlags.BooleanLike;
/** Deeper than this, an object is `{}`: enough for query arguments, and recursive types end. */
const MAX_DEPTH = 5;
/** Alternatives per parameter: a method is run once per alternative, so this bounds its runs. */
const MAX_VARIANTS = 24;

const value = (build: (context: RunContext) => unknown): Variant => ({ build, kind: 'value' });
const NULL: Variant = { build: () => null, kind: 'null' };
export const UNDEFINED: Variant = { build: () => undefined, kind: 'undefined' };
const EMPTY_OBJECT = value(() => ({}));

/**
 * Placeholder arguments from TypeScript types. Every type gives a list of variants: the first is the default (a
 * union's first member that is not null or undefined, objects with every property filled in), each other one
 * differs from it in one union choice (another member, null, undefined for an optional parameter), so that
 * running a method once per variant walks the branches its arguments select. Strings are 'value', numbers 1 (or
 * 0), dates the epoch, arrays one element (or none), callbacks return a placeholder of their return type, and any Kysely
 * or Transaction is the run's recording Kysely.
 *
 * @example
 * const variants = new ArgumentSynthesizer(checker).parameter(declaration);
 * const args = [variants[0].build({ db })];
 */
export class ArgumentSynthesizer {
  constructor(private readonly checker: ts.TypeChecker) {}

  /** The variants of a parameter; one that may be left out also has `undefined`. */
  parameter(declaration: ts.ParameterDeclaration): Variant[] {
    const variants = this.variants(this.checker.getTypeAtLocation(declaration), 0);
    const optional = declaration.questionToken !== undefined || declaration.initializer !== undefined;
    return optional && !variants.some((variant) => variant.kind === 'undefined')
      ? [...variants, UNDEFINED]
      : variants;
  }

  /** The members of a union of string literals (sorted), or undefined for any other type. */
  stringLiterals(declaration: ts.ParameterDeclaration): string[] | undefined {
    const type = this.checker.getTypeAtLocation(declaration);
    if (!type.isUnion()) return undefined;
    const members = type.types.filter((member) => (member.flags & NULLISH) === 0);
    const literals = members.flatMap((member) => (member.isStringLiteral() ? [member.value] : []));
    return literals.length === members.length ? literals.sort() : undefined;
  }

  private variants(type: ts.Type, depth: number): Variant[] {
    const flags = type.flags;
    if (this.isDatabase(type)) return [value((context) => context.db)];
    if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.NonPrimitive)) return [EMPTY_OBJECT];
    if (flags & ts.TypeFlags.Null) return [NULL];
    if (flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) return [UNDEFINED];
    if (type.isStringLiteral() || type.isNumberLiteral()) {
      const literal = type.value;
      return [value(() => literal)];
    }
    if (flags & ts.TypeFlags.BooleanLiteral) {
      const literal = this.checker.typeToString(type) === 'true';
      return [value(() => literal)];
    }
    if (flags & ts.TypeFlags.StringLike) return [value(() => 'value')];
    // 0 as well: `> 0` and `=== 0` branches (a grace period of 0, an empty page) select other SQL.
    if (flags & ts.TypeFlags.NumberLike) return [value(() => 1), value(() => 0)];
    if (flags & ts.TypeFlags.BigIntLike) return [value(() => 1n)];
    if (type.isUnion()) return this.unionVariants(type, depth);
    if (type.isIntersection()) {
      // A branded primitive (`string & { brand }`) is its primitive.
      const primitive = type.types.find((member) => (member.flags & PRIMITIVE) !== 0);
      if (primitive) return this.variants(primitive, depth);
    }
    if (flags & ts.TypeFlags.TypeParameter) {
      const constraint = this.checker.getBaseConstraintOfType(type);
      return constraint && constraint !== type ? this.variants(constraint, depth) : [EMPTY_OBJECT];
    }
    if (depth >= MAX_DEPTH) return [EMPTY_OBJECT];
    return this.objectVariants(type, depth);
  }

  private isDatabase(type: ts.Type): boolean {
    if (type.isUnion()) return type.types.some((member) => this.isDatabase(member));
    return DATABASE_TYPES.has(type.getSymbol()?.getName() ?? '');
  }

  private unionVariants(type: ts.UnionType, depth: number): Variant[] {
    if (this.isDatabase(type)) return [value((context) => context.db)];
    // Sorted by how the members read, not by the checker's internal order, which depends on what it saw first.
    const members = [...type.types].sort((a, b) => this.sortKey(a).localeCompare(this.sortKey(b)));
    const present = members.filter((member) => (member.flags & NULLISH) === 0);
    const absent = members.filter((member) => (member.flags & NULLISH) !== 0);
    return [...present, ...absent].flatMap((member) => this.variants(member, depth)).slice(0, MAX_VARIANTS);
  }

  private sortKey(type: ts.Type): string {
    return type.isStringLiteral() ? type.value : this.checker.typeToString(type);
  }

  private objectVariants(type: ts.Type, depth: number): Variant[] {
    const name = type.getSymbol()?.getName();
    if (name === 'Date') return [value(() => new Date(0))];
    if (name === 'Map' || name === 'ReadonlyMap') return [value(() => new Map())];
    if (name === 'Set' || name === 'ReadonlySet') return [value(() => new Set())];
    const promised = name === 'Promise' ? this.checker.getAwaitedType(type) : undefined;
    if (promised) {
      const inner = this.variants(promised, depth + 1)[0] ?? UNDEFINED;
      return [value((context) => Promise.resolve(inner.build(context)))];
    }
    const element = this.checker.getIndexTypeOfType(type, ts.IndexKind.Number);
    if (element && (this.checker.isArrayType(type) || this.checker.isTupleType(type))) {
      const elements = this.variants(element, depth + 1);
      return [...elements.map((variant) => value((context) => [variant.build(context)])), value(() => [])];
    }
    const [signature] = type.getCallSignatures();
    if (signature) {
      const returned =
        this.variants(this.checker.getReturnTypeOfSignature(signature), depth + 1)[0] ?? UNDEFINED;
      return [value((context) => () => returned.build(context))];
    }
    return this.recordVariants(type, depth);
  }

  /** An object with every property; then, per property, its alternatives (but not leaving an optional one out). */
  private recordVariants(type: ts.Type, depth: number): Variant[] {
    const properties = this.checker.getPropertiesOfType(type).map((property) => {
      const variants = this.variants(this.checker.getTypeOfSymbol(property), depth + 1);
      const present = variants.filter((variant) => variant.kind !== 'undefined');
      return { name: property.getName(), variants: present.length > 0 ? present : variants };
    });
    const build = (choice: ReadonlyMap<string, Variant>) =>
      value((context) =>
        Object.fromEntries(
          properties.map((property) => {
            const variant = choice.get(property.name) ?? property.variants[0] ?? UNDEFINED;
            return [property.name, variant.build(context)];
          }),
        ),
      );
    const alternatives = properties.flatMap((property) =>
      property.variants.slice(1).map((variant) => build(new Map([[property.name, variant]]))),
    );
    return [build(new Map()), ...alternatives].slice(0, MAX_VARIANTS);
  }
}

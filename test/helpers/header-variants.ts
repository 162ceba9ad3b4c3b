/**
 * X-TENANT values that look like a tenant's id or slug but are not it, byte for byte. The contract makes every
 * one of them malformed (400 TENANT_INVALID): ids are canonical decimals, slugs are matched exactly. A lookup
 * that trimmed, case-folded, parsed leniently or normalised Unicode would turn one of them into the real tenant.
 */

const FULLWIDTH_DIGIT = 0xff10;
const ARABIC_INDIC_DIGIT = 0x0660;
const LOOKALIKES: Record<string, string> = {
  // Cyrillic letters that render like Latin ones.
  a: '\u0430',
  e: '\u0435',
  o: '\u043e',
  c: '\u0441',
  p: '\u0440',
  // Hyphen look-alikes: hyphen, non-breaking hyphen, en dash, minus sign.
  '-': '\u2010',
};
const HYPHENS = ['\u2010', '\u2011', '\u2013', '\u2212'];

const digits = (id: number, zero: number) =>
  [...String(id)].map((d) => String.fromCodePoint(zero + Number(d))).join('');

/** A Unicode string as a client would put it on the wire (UTF-8 bytes), read back by Node as latin1. */
export const asWireBytes = (value: string): string => Buffer.from(value, 'utf8').toString('latin1');

export function idVariants(id: number): string[] {
  const s = String(id);
  return [
    ` ${s}`,
    `${s} `,
    `\t${s}`,
    `0${s}`,
    `00${s}`,
    `+${s}`,
    `-${s}`,
    `${s}.0`,
    `${s}e0`,
    `0x${id.toString(16)}`,
    `${s}n`,
    `${s},${s}`,
    `${s};`,
    `${s}/`,
    `%3${s}`,
    `${id + 2 ** 32}`, // wraps to the id in 32-bit arithmetic
    digits(id, FULLWIDTH_DIGIT),
    digits(id, ARABIC_INDIC_DIGIT),
    asWireBytes(digits(id, FULLWIDTH_DIGIT)),
    `${s}\u200b`,
    asWireBytes(`\ufeff${s}`),
  ];
}

export function slugVariants(slug: string): string[] {
  const lookalikes = Object.entries(LOOKALIKES)
    .filter(([latin]) => slug.includes(latin))
    .map(([latin, other]) => slug.replace(latin, other));
  return [
    slug[0]?.toUpperCase() + slug.slice(1),
    slug.toUpperCase(),
    ` ${slug}`,
    `${slug} `,
    `${slug}\t`,
    `${slug}.`,
    `${slug}/`,
    `../${slug}`,
    `${slug}/..`,
    `${slug}%00`,
    `${slug},${slug}`,
    slug.replace(/-/g, '_'),
    ...HYPHENS.filter(() => slug.includes('-')).map((h) => slug.replace('-', h)),
    ...lookalikes,
    ...lookalikes.map(asWireBytes),
    `${slug}\u200b`,
    `\ufeff${slug}`,
    `${slug}\u0301`,
    [...slug].map((ch) => (ch === '-' ? ch : String.fromCodePoint(ch.codePointAt(0)! + 0xfee0))).join(''),
  ];
}

import type { OutgoingMail } from './mailer.js';

/** Escapes text for safe use inside HTML element content and double-quoted attributes. */
function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A minimal HTML body: one paragraph of intro, the link as a button-like anchor and as plain text. */
function htmlBody(intro: string, action: string, link: string, outro: string): string {
  const href = escapeHtml(link);
  return [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif; line-height: 1.5">',
    `<p>${escapeHtml(intro)}</p>`,
    `<p><a href="${href}">${escapeHtml(action)}</a></p>`,
    `<p>Or copy this link into your browser:<br>${href}</p>`,
    `<p>${escapeHtml(outro)}</p>`,
    '</body></html>',
  ].join('\n');
}

/**
 * The email that confirms an address after registration (or a resend).
 *
 * @example
 * await mailer.enqueue(verificationMail(user.email, `${config.publicUrl}/api/auth/verify?token=${token}`), trx);
 */
export function verificationMail(to: string, link: string): OutgoingMail {
  const intro = 'Welcome to Tenantry! Please confirm your email address by opening the link below.';
  const outro = 'If you did not create an account, you can ignore this email.';
  return {
    to,
    subject: 'Verify your email',
    // The link stands on a line of its own so mail clients and the dev outbox log find it intact.
    text: `${intro}\n\n${link}\n\n${outro}\n`,
    html: htmlBody(intro, 'Verify your email', link, outro),
  };
}

/**
 * The email carrying a password reset link.
 *
 * @example
 * await mailer.enqueue(passwordResetMail(user.email, resetLink), trx);
 */
export function passwordResetMail(to: string, link: string): OutgoingMail {
  const intro =
    'Someone asked to reset the password of your Tenantry account. Open the link below to choose a new one.';
  const outro = 'If you did not ask for this, you can ignore this email: your password stays unchanged.';
  return {
    to,
    subject: 'Reset your password',
    text: `${intro}\n\n${link}\n\n${outro}\n`,
    html: htmlBody(intro, 'Reset your password', link, outro),
  };
}

/** What an invitation email says: which organization, which role. */
export interface InvitationMailContent {
  organizationName: string;
  role: string;
  /** `PUBLIC_URL/invitations/accept?tenant=<slug>&token=<T>`. */
  link: string;
  expiresAt: Date;
}

/**
 * The email inviting someone into an organization. It names no other person (not even who sent it): the
 * organization and the role are all the invitee needs to decide.
 *
 * @example
 * await mailer.enqueue(invitationMail('grace@example.com', { organizationName: 'Acme', role: 'admin', link, expiresAt }));
 */
export function invitationMail(to: string, content: InvitationMailContent): OutgoingMail {
  // Organization names are free text: keep them on one line in the subject.
  const name = content.organizationName.replace(/[\r\n\t]+/g, ' ');
  const intro = `You have been invited to join ${name} on Tenantry as ${content.role}. Open the link below to choose a password and accept.`;
  const outro = `The link works once and until ${content.expiresAt.toISOString()}. If you do not want to join, you can ignore this email.`;
  return {
    to,
    subject: `You are invited to join ${name}`,
    text: `${intro}\n\n${content.link}\n\n${outro}\n`,
    html: htmlBody(intro, 'Accept the invitation', content.link, outro),
  };
}

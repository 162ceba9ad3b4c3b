import type { TenantInvitation } from '../../db/tenant-schema.js';
import type { InvitationStatus } from './invitations.repository.js';

/** The status a client sees: a pending invitation past its expiry is `expired`. */
export function invitationStatus(invitation: TenantInvitation, now: Date = new Date()): InvitationStatus {
  if (invitation.status === 'pending' && invitation.expires_at <= now) return 'expired';
  return invitation.status;
}

/** The public shape of an invitation: never its token or hash. */
export function toInvitationView(invitation: TenantInvitation) {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    status: invitationStatus(invitation),
    invited_by: invitation.invited_by,
    expires_at: invitation.expires_at.toISOString(),
    created_at: invitation.created_at.toISOString(),
  };
}
export type InvitationView = ReturnType<typeof toInvitationView>;

// Authgear's API error envelope (authgear-protocol.md §4).
import { randomAlnum } from './util.js';

const STATUS = {
  BadRequest: 400, Invalid: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, AlreadyExists: 409,
  DataRace: 409, TooManyRequest: 429, InternalError: 500, ServiceUnavailable: 503, RequestEntityTooLarge: 413,
};

// A time as Go's time.Time marshals it into JSON (RFC3339Nano, UTC as
// Authgear runs): nanoseconds with trailing zeros dropped, no fraction at all
// when they are zero ("2026-08-21T10:00:00.123456789Z", "...:00.5Z", "...:00Z").
// JavaScript has milliseconds; the digits below them come from the
// high-resolution clock, as Go's would.
export function goTime(ms, subMsNanos = Number(process.hrtime.bigint() % 1000000n)) {
  const whole = Math.floor(ms / 1000);
  const nanos = (ms - whole * 1000) * 1e6 + subMsNanos;
  const base = new Date(whole * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const frac = String(Math.floor(nanos)).padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

export class APIError extends Error {
  constructor(name, reason, message, info) {
    super(message);
    this.apiName = name; this.reason = reason; this.info = info;
  }

  get code() { return STATUS[this.apiName]; }

  toJSON() {
    const e = { name: this.apiName, reason: this.reason, message: this.message, code: this.code };
    if (this.info && Object.keys(this.info).length) e.info = this.info;
    e.tracking_id = randomAlnum(16).toLowerCase();
    return e;
  }
}

export const E = {
  badRequest: (msg = 'request content type is invalid') => new APIError('BadRequest', 'BadRequest', msg),
  invalidJSON: () => new APIError('BadRequest', 'InvalidJSON', 'failed to decode JSON'),
  validation: (causes, flowType) => new APIError('Invalid', 'ValidationFailed', 'invalid request body',
    { causes, ...(flowType ? { FlowType: flowType } : {}) }),
  flowNotFound: () => new APIError('NotFound', 'AuthenticationFlowNotFound', 'flow not found'),
  flowFlowNotFound: (flowType) => new APIError('NotFound', 'AuthenticationFlowFlowNotFound', 'flow not found', { FlowType: flowType }),
  userNotFound: (loginIdType, flowType) => new APIError('NotFound', 'UserNotFound', 'user not found',
    { IdentityTypeIncoming: loginIdType === 'id_token' ? 'id_token' : 'login_id', ...(loginIdType !== 'id_token' ? { LoginIDTypeIncoming: loginIdType } : {}), FlowType: flowType }),
  invalidCredentials: (authType, flowType) => new APIError('Unauthorized', 'InvalidCredentials', 'invalid credentials',
    { AuthenticationType: authType, FlowType: flowType }),
  disabled: (reason, flowType) => new APIError('Forbidden', 'DisabledUser', 'user is disabled',
    { ...(reason ? { reason } : {}), FlowType: flowType }),
  lockout: (until, flowType) => new APIError('TooManyRequest', 'AccountLockout', 'account locked',
    { until: goTime(until), FlowType: flowType }),
  rateLimited: (name, group, bucket) => new APIError('TooManyRequest', 'RateLimited', 'request rate limited',
    { rate_limit: { name, group }, rate_limit_name: group, bucket_name: bucket }),
  tooManyRequest: () => new APIError('TooManyRequest', 'TooManyRequest', 'Reach Rate Limit'),
  passwordPolicy: (causes, flowType) => new APIError('Invalid', 'PasswordPolicyViolated', 'password policy violated',
    { causes, FlowType: flowType }),
  botProtectionFailed: (flowType) => new APIError('Forbidden', 'BotProtectionVerificationFailed', 'bot protection verification failed',
    { FlowType: flowType }),
  invalidIdToken: () => new APIError('Invalid', 'Invalid', 'invalid ID token'),
  differentUser: (flowType) => new APIError('BadRequest', 'AuthenticationFlowDifferentUserID', 'different user ID', { FlowType: flowType }),
  unexpected: () => new APIError('InternalError', 'UnexpectedError', 'unexpected error'),
};

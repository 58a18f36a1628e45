// Package remote is custsync's client for the platform's REST APIs: the Customer Service
// (customers, addresses), Customer Management (legal entities, locations, contact assignments),
// the OAuth token endpoint and the SD customer mappings endpoint.
//
// One Client is shared by every worker of a run. It owns:
//   - the OAuth2 client-credentials token, cached, refreshed before it expires and once after a
//     401, with concurrent callers sharing one token request;
//   - one rate limiter (requests per second) and two concurrency limits, one for writes and one
//     for reads, so the configured load holds however many goroutines call the client;
//   - one retry loop for every request, token requests included: 429/502/503/504 and network
//     errors are retried with capped exponential backoff and full jitter; a 429 or a
//     Retry-After header closes a shared gate that pauses every worker, not only the one that
//     was told to slow down;
//   - typed errors (*APIError) decoded from both error body shapes of the platform, with a
//     one-line excerpt of any other answer (a gateway's HTML page is quoted by its title).
//
// Retry policy. Writes are idempotent by design: every entity is written with PUT to a
// caller-chosen id, so a retried or replayed write cannot create a duplicate. GET, PUT, DELETE
// and PATCH are retried after 502/503/504 and network errors, and after a 500 at most
// ServerErrorRetries times (a gateway's 500 passes; a record's 500 does not). PATCH counts as
// idempotent because custsync's patches are merge patches of absolute values (never increments
// or list appends). POST is retried only where the request is known to be safe to repeat
// (searches, the SD mapping upsert, the token request). A 429 is retried for every method,
// because the platform refuses such a request before acting on it. Other 4xx answers and 501
// are final. A write whose body carries metadata.version and whose first attempt was lost after
// it committed meets its own new version on the replay: the resulting 409 has
// APIError.AfterUnknownOutcome set. Likewise the created flag of an upsert reports the last
// answer: a create whose first attempt committed but lost its answer reports created=false (the
// replay's 204).
//
// Token requests go through the same loop and limiter. A token answer cut short is retried; an
// answer that cannot come from the platform's OAuth service (HTML, 404, 501, JSON without a
// token) is final at once. When the token cannot be had, the *TokenError (naming the endpoint
// and quoting the answer) is kept: every later call of the client fails with it at once, so a
// run stops after one retried fetch instead of failing each record on its own.
//
// Error classes for the CLI: errors.Is(err, ErrCredentialsRefused) (exit 4),
// errors.Is(err, ErrRetriesExhausted) (exit 5) and errors.Is(err, ErrNotPlatform) (exit 2);
// IsFinal marks per-record failures for the error file; a cancelled context surfaces as
// context.Canceled.
//
// Neither the client secret nor an access token ever appears in an error, a log line or the
// String form of a Config.
package remote

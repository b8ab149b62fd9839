-- Grants on handler state and snapshots (issue 11, item 4; docs/security.md,
-- "Trust model"): a writer advances and locks only the handlers whose names
-- start with a prefix it was granted, and saves snapshots only of the
-- categories it was granted.  es_grant_writer keeps granting everything.
-- Reading is not restricted.  Row-level security on eventstore.events is
-- not a tenant boundary: the functions bypass it (pinned below).
\set VERBOSITY sqlstate
SET client_min_messages = warning;
DROP ROLE IF EXISTS es_gr_billing_member;
DROP ROLE IF EXISTS es_gr_billing;
DROP ROLE IF EXISTS es_gr_shipping;
DROP ROLE IF EXISTS es_gr_full;
RESET client_min_messages;
CREATE ROLE es_gr_billing LOGIN;
CREATE ROLE es_gr_shipping LOGIN;
CREATE ROLE es_gr_full LOGIN;
CREATE ROLE es_gr_billing_member LOGIN IN ROLE es_gr_billing;
SELECT eventstore.es_grant_handler('es_gr_billing', 'billing.');
SELECT eventstore.es_grant_category('es_gr_billing', 'invoice');
SELECT eventstore.es_grant_handler('es_gr_shipping', 'shipping.');
SELECT eventstore.es_grant_category('es_gr_shipping', 'parcel');
SELECT eventstore.es_grant_category('es_gr_shipping', 'parcel');
SELECT eventstore.es_grant_writer('es_gr_full');
SELECT grantee, kind, name FROM eventstore.grants WHERE grantee LIKE 'es_gr_%' ORDER BY 1, 2, 3;
-- bad arguments
SELECT eventstore.es_grant_handler('es_gr_billing', NULL);
SELECT eventstore.es_grant_category('es_gr_billing', NULL);
SELECT eventstore.es_grant_category('es_gr_billing', 'in-voice');
SELECT eventstore.es_grant_handler('es_gr_billing', repeat('x', 256));
SELECT eventstore.es_grant_handler('es_gr_no_such_role', 'x');

-- The shipping service sets up its projection and a snapshot.
\c - es_gr_shipping
SELECT version FROM eventstore.es_append('parcel-1', 'Sent');
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 1);
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 1, 'parcel-1');
SELECT * FROM eventstore.es_snapshot('parcel-1', 1, '{"at": "depot"}');

-- The billing service: its own handlers and categories.
\c - es_gr_billing
SELECT version FROM eventstore.es_append('invoice-1', 'Issued');
SELECT * FROM eventstore.es_advance_position('billing.ledger', 1);
SELECT eventstore.es_lock_handler('billing.ledger');
SELECT * FROM eventstore.es_snapshot('invoice-1', 1, '{"total": 5}');
-- another service's state is out of reach
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 9223372036854775807);
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 5, 'parcel-1');
SELECT eventstore.es_lock_handler('shipping.tracker', wait => false);
SELECT * FROM eventstore.es_snapshot('parcel-1', 1, '{"at": "nowhere"}');
-- a prefix is a prefix: "billing." does not cover "billing"
SELECT * FROM eventstore.es_advance_position('billing', 1);
-- reading is not restricted
SELECT eventstore.es_handler_position('shipping.tracker');
SELECT data FROM eventstore.es_load_snapshot('parcel-1');
-- a writer cannot grant itself more, nor read the grants
SELECT eventstore.es_grant_handler('es_gr_billing', '');
SELECT eventstore.es_revoke_handler('es_gr_shipping', 'shipping.');
SELECT count(*) FROM eventstore.grants;
-- the messages
\set VERBOSITY default
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 9223372036854775807);
SELECT * FROM eventstore.es_snapshot('parcel-1', 1, '{"at": "nowhere"}');
\set VERBOSITY sqlstate

-- A member of a granted role inherits its grants.
\c - es_gr_billing_member
SELECT * FROM eventstore.es_advance_position('billing.member', 1);
SELECT * FROM eventstore.es_advance_position('shipping.member', 1);

-- SET ROLE: the role chosen counts, also for a superuser's session (a
-- pooler that switches roles).
\c - postgres
SET ROLE es_gr_billing;
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 7);
RESET ROLE;

-- The unrestricted writer (es_grant_writer) may write every handler and
-- snapshot, as in 1.0.
\c - es_gr_full
SELECT * FROM eventstore.es_advance_position('shipping.tracker', 2);
SELECT * FROM eventstore.es_advance_position('anything', 1);
SELECT * FROM eventstore.es_snapshot('invoice-1', 1, '{"total": 6}');

-- Revoking: the EXECUTE right stays, the handler is out of reach.
\c - postgres
SELECT eventstore.es_revoke_handler('es_gr_billing', 'billing.');
SELECT eventstore.es_revoke_handler('es_gr_billing', 'billing.');
SELECT eventstore.es_revoke_category('es_gr_billing', 'invoice');
\c - es_gr_billing
SELECT * FROM eventstore.es_advance_position('billing.ledger', 2);
SELECT * FROM eventstore.es_snapshot('invoice-1', 1, '{"total": 7}');

-- What the attempts left: shipping's state is its own (and the full writer's).
\c - postgres
SELECT handler, stream, position FROM eventstore.checkpoints
WHERE handler LIKE 'shipping.%' OR handler LIKE 'billing%' ORDER BY 1, 2;
SELECT stream, data FROM eventstore.snapshots WHERE stream IN ('parcel-1', 'invoice-1') ORDER BY 1;

-- Row-level security is not a tenant boundary.  The functions run as the
-- store's owner, a superuser, which bypasses every policy, FORCE ROW LEVEL
-- SECURITY included: a billing role still reads parcel events.
ALTER TABLE eventstore.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.events FORCE ROW LEVEL SECURITY;
CREATE POLICY es_gr_invoice_only ON eventstore.events USING (category = 'invoice');
\c - es_gr_billing
SELECT stream, type FROM eventstore.es_load('parcel-1');
SELECT count(*) AS parcel_events FROM eventstore.es_load(after_position => 0, category => 'parcel');
\c - postgres
DROP POLICY es_gr_invoice_only ON eventstore.events;
ALTER TABLE eventstore.events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE eventstore.events DISABLE ROW LEVEL SECURITY;

-- Clean up (the database itself is dropped by the next run).
SET client_min_messages = warning;
DELETE FROM eventstore.grants WHERE grantee LIKE 'es_gr_%';
DROP OWNED BY es_gr_billing, es_gr_shipping, es_gr_full, es_gr_billing_member;
DROP ROLE es_gr_billing_member;
DROP ROLE es_gr_billing;
DROP ROLE es_gr_shipping;
DROP ROLE es_gr_full;

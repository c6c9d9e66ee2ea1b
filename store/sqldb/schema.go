package sqldb

import (
	"context"
	"database/sql"
)

// migrations are applied in order and never edited once released: a
// change to the schema is a new entry. {{blob}} is the engine's byte type.
// A migration's data step, when it has one, runs after its SQL in the same
// transaction, for what the two engines' SQL cannot say alike.
var migrations = []struct {
	name, sql string
	data      func(ctx context.Context, s *DB, tx *sql.Tx) error
}{
	{"registry, interval days, events", `
CREATE TABLE usage_points (
	mrid TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	service_category INTEGER NOT NULL DEFAULT 0,
	time_zone TEXT NOT NULL DEFAULT '',
	tariff_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE meters (
	mrid TEXT PRIMARY KEY,
	serial TEXT NOT NULL DEFAULT '',
	usage_point TEXT NOT NULL DEFAULT '',
	manufacturer TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	protocol TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT '',
	segment TEXT NOT NULL DEFAULT '',
	region TEXT NOT NULL DEFAULT '',
	tags TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT '',
	updated_us BIGINT NOT NULL
);
CREATE INDEX meters_segment ON meters(segment, mrid);
CREATE INDEX meters_usage_point ON meters(usage_point);
CREATE TABLE interval_days (
	meter_id TEXT NOT NULL,
	channel TEXT NOT NULL,
	day TEXT NOT NULL,
	version INTEGER NOT NULL,
	start_us BIGINT NOT NULL,
	interval_s INTEGER NOT NULL,
	n INTEGER NOT NULL,
	data {{blob}} NOT NULL,
	source TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	user_name TEXT NOT NULL DEFAULT '',
	created_us BIGINT NOT NULL,
	PRIMARY KEY (meter_id, channel, day, version)
);
CREATE TABLE events (
	mrid TEXT PRIMARY KEY,
	meter_id TEXT NOT NULL,
	type TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	code INTEGER NOT NULL DEFAULT 0,
	reason TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_meter_time ON events(meter_id, created_us);
CREATE INDEX events_time ON events(created_us)`, nil},
	{"head-end: secrets, counters, cursors, registers, collection, commands", `
CREATE TABLE meter_secrets (
	meter_id TEXT PRIMARY KEY,
	sealed {{blob}} NOT NULL,
	updated_us BIGINT NOT NULL
);
CREATE TABLE counters (
	meter_id TEXT NOT NULL,
	name TEXT NOT NULL,
	value BIGINT NOT NULL,
	PRIMARY KEY (meter_id, name)
);
CREATE TABLE cursors (
	meter_id TEXT NOT NULL,
	name TEXT NOT NULL,
	at_us BIGINT NOT NULL,
	PRIMARY KEY (meter_id, name)
);
CREATE TABLE register_reads (
	meter_id TEXT NOT NULL,
	reading_type TEXT NOT NULL,
	at_us BIGINT NOT NULL,
	value BIGINT NOT NULL,
	quality INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (meter_id, reading_type, at_us)
);
CREATE TABLE collection_results (
	day TEXT NOT NULL,
	meter_id TEXT NOT NULL,
	segment TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	readings INTEGER NOT NULL,
	complete INTEGER NOT NULL,
	error TEXT NOT NULL DEFAULT '',
	at_us BIGINT NOT NULL,
	PRIMARY KEY (day, meter_id)
);
CREATE INDEX collection_results_segment ON collection_results(day, segment, meter_id);
CREATE TABLE controls (
	mrid TEXT PRIMARY KEY,
	correlation_id TEXT NOT NULL UNIQUE,
	meter_id TEXT NOT NULL,
	type TEXT NOT NULL,
	priority INTEGER NOT NULL DEFAULT 0,
	scheduled_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	parameters TEXT NOT NULL DEFAULT '',
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
);
CREATE INDEX controls_due ON controls(status, scheduled_us);
CREATE INDEX controls_meter ON controls(meter_id, created_us);
CREATE TABLE control_steps (
	mrid TEXT NOT NULL,
	seq INTEGER NOT NULL,
	status TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	at_us BIGINT NOT NULL,
	PRIMARY KEY (mrid, seq)
)`, nil},
	{"VEE exceptions", `
CREATE TABLE vee_exceptions (
	id {{serial}} PRIMARY KEY,
	meter_id TEXT NOT NULL,
	channel TEXT NOT NULL,
	day TEXT NOT NULL,
	version INTEGER NOT NULL,
	rule TEXT NOT NULL,
	interval_ix INTEGER NOT NULL,
	reason TEXT NOT NULL,
	open INTEGER NOT NULL,
	created_us BIGINT NOT NULL,
	resolved_by TEXT NOT NULL DEFAULT '',
	resolution TEXT NOT NULL DEFAULT '',
	resolved_us BIGINT NOT NULL DEFAULT 0,
	UNIQUE (meter_id, channel, day, version, rule, interval_ix)
);
CREATE INDEX vee_exceptions_meter ON vee_exceptions(meter_id, id)`, nil},
	{"users, API tokens, sessions", `
CREATE TABLE users (
	name TEXT PRIMARY KEY,
	display_name TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
);
CREATE TABLE user_usage_points (
	user_name TEXT NOT NULL,
	usage_point TEXT NOT NULL,
	PRIMARY KEY (user_name, usage_point)
);
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	user_name TEXT NOT NULL,
	hash {{blob}} NOT NULL,
	label TEXT NOT NULL DEFAULT '',
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL DEFAULT 0,
	last_used_us BIGINT NOT NULL DEFAULT 0,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens(user_name);
CREATE TABLE sessions (
	id_hash {{blob}} PRIMARY KEY,
	user_name TEXT NOT NULL,
	csrf TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	last_seen_us BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_name);
CREATE INDEX sessions_expiry ON sessions(expires_us)`, nil},
	{"VEE exceptions: one per rule and day, with the intervals it covers and their unit", `
ALTER TABLE vee_exceptions ADD COLUMN intervals TEXT NOT NULL DEFAULT '';
ALTER TABLE vee_exceptions ADD COLUMN n_intervals INTEGER NOT NULL DEFAULT -1;
ALTER TABLE vee_exceptions ADD COLUMN unit TEXT NOT NULL DEFAULT '';
CREATE INDEX vee_exceptions_day_rule ON vee_exceptions(meter_id, channel, day, rule)`, nil},
	{"head-end: object model templates, and the template each meter follows", `
CREATE TABLE object_templates (
	key TEXT PRIMARY KEY,
	model {{blob}} NOT NULL,
	updated_us BIGINT NOT NULL
);
CREATE TABLE meter_templates (
	meter_id TEXT PRIMARY KEY,
	template_key TEXT NOT NULL,
	updated_us BIGINT NOT NULL
)`, nil},
	{"head-end: a collection result's objects the meter would not give", `
ALTER TABLE collection_results ADD COLUMN problems TEXT NOT NULL DEFAULT ''`, nil},
	{"registry: a meter's kind, archetype, parent, push id and manifest id in columns, out of its tags", `
ALTER TABLE meters ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE meters ADD COLUMN archetype TEXT NOT NULL DEFAULT '';
ALTER TABLE meters ADD COLUMN parent TEXT NOT NULL DEFAULT '';
ALTER TABLE meters ADD COLUMN push_id TEXT NOT NULL DEFAULT '';
ALTER TABLE meters ADD COLUMN manifest_id TEXT NOT NULL DEFAULT ''`, untagMeters},
}

var queries = map[string]string{
	"putUsagePoint": `INSERT INTO usage_points(mrid, name, service_category, time_zone, tariff_id) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (mrid) DO UPDATE SET name = excluded.name, service_category = excluded.service_category,
		time_zone = excluded.time_zone, tariff_id = excluded.tariff_id`,
	"getUsagePoint": `SELECT mrid, name, service_category, time_zone, tariff_id FROM usage_points WHERE mrid = ?`,
	"putMeter": `INSERT INTO meters(` + meterCols + `, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mrid) DO UPDATE SET serial = excluded.serial, usage_point = excluded.usage_point,
		manufacturer = excluded.manufacturer, model = excluded.model, protocol = excluded.protocol,
		address = excluded.address, segment = excluded.segment, region = excluded.region, tags = excluded.tags,
		status = excluded.status, kind = excluded.kind, archetype = excluded.archetype, parent = excluded.parent,
		push_id = excluded.push_id, manifest_id = excluded.manifest_id, updated_us = excluded.updated_us`,
	"getMeter":      `SELECT ` + meterCols + ` FROM meters WHERE mrid = ?`,
	"latestDayBlob": `SELECT version, data, start_us, interval_s FROM interval_days WHERE meter_id = ? AND channel = ? AND day = ? ORDER BY version DESC LIMIT 1`,
	"insertDay": `INSERT INTO interval_days(meter_id, channel, day, version, start_us, interval_s, n, data, source, reason, user_name, created_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"getDay":      `SELECT ` + dayCols + ` FROM interval_days WHERE meter_id = ? AND channel = ? AND day = ? ORDER BY version DESC LIMIT 1`,
	"dayVersions": `SELECT ` + dayCols + ` FROM interval_days WHERE meter_id = ? AND channel = ? AND day = ? ORDER BY version`,
	"daysRange": `SELECT ` + dayCols + ` FROM interval_days d WHERE meter_id = ? AND channel = ? AND day >= ? AND day <= ?
		AND version = (SELECT MAX(version) FROM interval_days x WHERE x.meter_id = d.meter_id AND x.channel = d.channel AND x.day = d.day)
		ORDER BY day`,
	"insertEvent": `INSERT INTO events(mrid, meter_id, type, created_us, code, reason, severity, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mrid) DO NOTHING`,
}

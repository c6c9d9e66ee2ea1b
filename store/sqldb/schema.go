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
	{"commands: who issued and decided each, safeguard overrides; usage points' protection", `
ALTER TABLE controls ADD COLUMN issued_by TEXT NOT NULL DEFAULT '';
ALTER TABLE controls ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE controls ADD COLUMN override_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX controls_issued ON controls(created_us);
ALTER TABLE control_steps ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_points ADD COLUMN protection TEXT NOT NULL DEFAULT ''`, nil},
	{"campaigns and their items", `
CREATE TABLE campaigns (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	approved_by TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	pilot INTEGER NOT NULL DEFAULT 0,
	max_failure_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
	min_finished INTEGER NOT NULL DEFAULT 0,
	concurrency INTEGER NOT NULL DEFAULT 0,
	params TEXT NOT NULL DEFAULT '',
	base_done INTEGER NOT NULL DEFAULT 0,
	base_failed INTEGER NOT NULL DEFAULT 0,
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
);
CREATE INDEX campaigns_status ON campaigns(status, created_us);
CREATE TABLE campaign_items (
	campaign_id TEXT NOT NULL,
	meter_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	pilot INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	result TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	node TEXT NOT NULL DEFAULT '',
	updated_us BIGINT NOT NULL,
	PRIMARY KEY (campaign_id, meter_id)
);
CREATE UNIQUE INDEX campaign_items_seq ON campaign_items(campaign_id, seq);
CREATE INDEX campaign_items_status ON campaign_items(campaign_id, status, seq)`, nil},
	{"audit trail: hash-chained records", `
CREATE TABLE audit_records (
	seq BIGINT PRIMARY KEY,
	at_us BIGINT NOT NULL,
	actor TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL DEFAULT '',
	details TEXT NOT NULL DEFAULT '',
	prev {{blob}} NOT NULL,
	hash {{blob}} NOT NULL
);
CREATE INDEX audit_records_actor ON audit_records(actor, seq);
CREATE INDEX audit_records_action ON audit_records(action, seq);
CREATE INDEX audit_records_at ON audit_records(at_us)`, nil},
	{"anomaly limits: issued commands counted per type, scope and five minutes", `
CREATE TABLE command_counts (
	type TEXT NOT NULL,
	scope TEXT NOT NULL,
	scope_key TEXT NOT NULL,
	bucket BIGINT NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (type, scope, scope_key, bucket)
);
CREATE INDEX command_counts_bucket ON command_counts(bucket);
CREATE INDEX controls_status_type ON controls(status, type, issued_by)`, nil},
	{"weather: temperatures observed per region, for the disconnect safeguards", `
CREATE TABLE weather (
	region TEXT NOT NULL,
	at_us BIGINT NOT NULL,
	temperature_c DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (region, at_us)
)`, nil},
	{"firmware: signed images a firmware campaign sends", `
CREATE TABLE firmware_images (
	id TEXT PRIMARY KEY,
	vendor TEXT NOT NULL,
	model TEXT NOT NULL,
	version TEXT NOT NULL,
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	image {{blob}} NOT NULL,
	added_by TEXT NOT NULL,
	added_us BIGINT NOT NULL
)`, nil},
	{"head-end: a meter's pending credentials beside its current ones while its keys change", `
ALTER TABLE meter_secrets ADD COLUMN pending {{blob}}`, nil},
	{"consents: a household's consents in force, per usage point and purpose", `
CREATE TABLE consents (
	usage_point TEXT NOT NULL,
	purpose TEXT NOT NULL,
	granted_by TEXT NOT NULL,
	granted_us BIGINT NOT NULL,
	PRIMARY KEY (usage_point, purpose)
);
CREATE INDEX consents_purpose ON consents(purpose, usage_point)`, nil},
	{"registry: the gas and water meters behind a meter", `
CREATE INDEX meters_parent ON meters(parent)`, nil},
	{"registry: a meter's exposure, a known weakness of its security", `
ALTER TABLE meters ADD COLUMN exposure TEXT NOT NULL DEFAULT ''`, nil},
	{"demand response: programs, enrolments, events and participations", `
CREATE TABLE dr_programs (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	notice_s BIGINT NOT NULL,
	randomize_s BIGINT NOT NULL,
	baseline TEXT NOT NULL,
	adjust INTEGER NOT NULL,
	incentive BIGINT NOT NULL,
	currency TEXT NOT NULL,
	floor_w BIGINT NOT NULL,
	approval INTEGER NOT NULL,
	created_us BIGINT NOT NULL
);
CREATE TABLE dr_enrolments (
	program_id TEXT NOT NULL,
	usage_point TEXT NOT NULL,
	meter_id TEXT NOT NULL,
	from_us BIGINT NOT NULL,
	until_us BIGINT NOT NULL,
	PRIMARY KEY (program_id, usage_point)
);
CREATE TABLE dr_events (
	id TEXT PRIMARY KEY,
	program_id TEXT NOT NULL,
	start_us BIGINT NOT NULL,
	end_us BIGINT NOT NULL,
	threshold_w BIGINT NOT NULL,
	price BIGINT NOT NULL,
	currency TEXT NOT NULL,
	relay TEXT NOT NULL,
	status TEXT NOT NULL,
	source TEXT NOT NULL,
	created_by TEXT NOT NULL,
	approved_by TEXT NOT NULL,
	reason TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
);
CREATE INDEX dr_events_start ON dr_events(start_us);
CREATE INDEX dr_events_status ON dr_events(status, start_us);
CREATE TABLE dr_participations (
	event_id TEXT NOT NULL,
	usage_point TEXT NOT NULL,
	meter_id TEXT NOT NULL,
	start_offset_ms BIGINT NOT NULL,
	end_offset_ms BIGINT NOT NULL,
	notified_us BIGINT NOT NULL,
	opted_out_us BIGINT NOT NULL,
	dispatched_us BIGINT NOT NULL,
	countermanded_us BIGINT NOT NULL,
	PRIMARY KEY (event_id, usage_point)
);
CREATE INDEX dr_participations_usage_point ON dr_participations(usage_point)`, nil},
	{"billing: tariff versions and assignments, accounts, price feeds, critical peaks, bill runs and bills", `
CREATE TABLE tariff_versions (
	id TEXT NOT NULL,
	version INTEGER NOT NULL,
	effective_from TEXT NOT NULL,
	doc {{blob}} NOT NULL,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (id, version)
);
CREATE TABLE tariff_assignments (
	usage_point TEXT NOT NULL,
	from_day TEXT NOT NULL,
	tariff_id TEXT NOT NULL,
	PRIMARY KEY (usage_point, from_day)
);
CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	usage_point TEXT NOT NULL,
	account_group TEXT NOT NULL,
	cycle_day INTEGER NOT NULL
);
CREATE INDEX accounts_group ON accounts(account_group, id);
CREATE INDEX accounts_usage_point ON accounts(usage_point);
CREATE TABLE price_feeds (
	feed TEXT NOT NULL,
	at_us BIGINT NOT NULL,
	price BIGINT NOT NULL,
	PRIMARY KEY (feed, at_us)
);
CREATE TABLE critical_peaks (
	tariff_id TEXT NOT NULL,
	start_us BIGINT NOT NULL,
	end_us BIGINT NOT NULL,
	PRIMARY KEY (tariff_id, start_us)
);
CREATE TABLE bill_runs (
	id {{serial}} PRIMARY KEY,
	account_group TEXT NOT NULL,
	from_day TEXT NOT NULL,
	to_day TEXT NOT NULL,
	status TEXT NOT NULL,
	run_cursor TEXT NOT NULL DEFAULT '',
	billed INTEGER NOT NULL DEFAULT 0,
	skipped INTEGER NOT NULL DEFAULT 0,
	held INTEGER NOT NULL DEFAULT 0,
	flagged INTEGER NOT NULL DEFAULT 0,
	failed INTEGER NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	started_us BIGINT NOT NULL,
	finished_us BIGINT NOT NULL DEFAULT 0,
	UNIQUE (account_group, from_day, to_day)
);
CREATE TABLE bills (
	id {{serial}} PRIMARY KEY,
	run_id BIGINT NOT NULL,
	account TEXT NOT NULL,
	usage_point TEXT NOT NULL,
	from_day TEXT NOT NULL,
	to_day TEXT NOT NULL,
	seq INTEGER NOT NULL,
	is_latest INTEGER NOT NULL,
	status TEXT NOT NULL,
	currency TEXT NOT NULL,
	total BIGINT NOT NULL,
	carry_out BIGINT NOT NULL,
	peak_w BIGINT NOT NULL,
	doc {{blob}} NOT NULL,
	supersedes BIGINT NOT NULL,
	reason TEXT NOT NULL,
	adjustment {{blob}},
	created_us BIGINT NOT NULL,
	UNIQUE (account, from_day, to_day, seq)
);
CREATE INDEX bills_run ON bills(run_id, id);
CREATE INDEX bills_usage_point ON bills(usage_point, id)`, nil},
	{"topology: versions of the grid behind the meters, each effective from a date", `
CREATE TABLE topology_versions (
	version {{serial}} PRIMARY KEY,
	effective_us BIGINT NOT NULL,
	nodes INTEGER NOT NULL,
	data {{blob}} NOT NULL,
	created_us BIGINT NOT NULL
);
CREATE INDEX topology_versions_effective ON topology_versions(effective_us, version)`, nil},
	{"outages", `
CREATE TABLE outages (
	id TEXT PRIMARY KEY,
	level TEXT NOT NULL,
	device TEXT NOT NULL,
	feeder TEXT NOT NULL DEFAULT '',
	region TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL,
	start_us BIGINT NOT NULL,
	end_us BIGINT NOT NULL DEFAULT 0,
	detected_us BIGINT NOT NULL DEFAULT 0,
	confirmed_us BIGINT NOT NULL DEFAULT 0,
	verified_us BIGINT NOT NULL DEFAULT 0,
	customers INTEGER NOT NULL DEFAULT 0,
	confidence DOUBLE PRECISION NOT NULL DEFAULT 0,
	parent TEXT NOT NULL DEFAULT '',
	planned INTEGER NOT NULL DEFAULT 0,
	last_gasps INTEGER NOT NULL DEFAULT 0,
	pings_failed INTEGER NOT NULL DEFAULT 0,
	pings_ok INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outages_start ON outages(start_us, id);
CREATE INDEX outages_device ON outages(device, start_us);
CREATE INDEX outages_open ON outages(end_us, start_us)`, nil},
	{"rate-limit buckets and trusted sign-in sources, shared by every node", `
CREATE TABLE rate_buckets (
	bucket TEXT PRIMARY KEY,
	tat_us BIGINT NOT NULL
);
CREATE INDEX rate_buckets_tat ON rate_buckets(tat_us);
CREATE TABLE signin_trust (
	pair TEXT PRIMARY KEY,
	at_us BIGINT NOT NULL
);
CREATE INDEX signin_trust_at ON signin_trust(at_us)`, nil},
	// PostgreSQL only (see partitions.go); SQLite records it and changes nothing.
	{"interval days: partitioned by month in PostgreSQL", "", partitionDays},
	{"register reads: a row per meter and day, the day's reads in one blob", `
CREATE TABLE register_days (
	meter_id TEXT NOT NULL,
	day BIGINT NOT NULL,
	data {{blob}} NOT NULL,
	rev BIGINT NOT NULL,
	PRIMARY KEY (meter_id, day)
)`, migrateRegisterRows},
}

var queries = map[string]string{
	"putUsagePoint": `INSERT INTO usage_points(mrid, name, service_category, time_zone, tariff_id, protection) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (mrid) DO UPDATE SET name = excluded.name, service_category = excluded.service_category,
		time_zone = excluded.time_zone, tariff_id = excluded.tariff_id, protection = excluded.protection`,
	"getUsagePoint": `SELECT mrid, name, service_category, time_zone, tariff_id, protection FROM usage_points WHERE mrid = ?`,
	"putMeter": `INSERT INTO meters(` + meterCols + `, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mrid) DO UPDATE SET serial = excluded.serial, usage_point = excluded.usage_point,
		manufacturer = excluded.manufacturer, model = excluded.model, protocol = excluded.protocol,
		address = excluded.address, segment = excluded.segment, region = excluded.region, tags = excluded.tags,
		status = excluded.status, kind = excluded.kind, archetype = excluded.archetype, parent = excluded.parent,
		push_id = excluded.push_id, manifest_id = excluded.manifest_id, exposure = excluded.exposure,
		updated_us = excluded.updated_us`,
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

package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/store"
)

// scope says which object a route's {id} names, so that a consumer, who
// may read only their own usage points, is let through to theirs.
type scope int

const (
	scopeNone scope = iota
	scopeMeter
	scopeUsagePoint
)

// param is a documented query parameter.
type param struct {
	name, typ, doc string
	required       bool
}

// route is one endpoint: how it is reached, who may call it, and what
// the OpenAPI document says of it.
type route struct {
	method, path string
	perm         auth.Permission // "": anyone signed in
	public       bool            // no credentials at all
	scope        scope
	tag, summary string
	query        []param
	body         string // request schema name
	status       int    // success status (200 when 0)
	resp         string // response schema name ("": none)
	respType     string // response media type (application/json when "")
	h            http.HandlerFunc
	// audit is what a call is recorded as in the audit trail; "" leaves
	// it to auditAction's rule.
	audit audit.Action
}

// routes lists every endpoint of the API. The OpenAPI document is made
// from this table, so the two cannot drift apart.
func (a *API) routes() []route {
	page := []param{{name: "limit", typ: "integer", doc: "page size, 1 to 1000 (default 100)"}}
	rs := []route{
		{method: "GET", path: "/healthz", public: true, tag: "probes", summary: "Liveness: the process answers", resp: "Status", h: a.healthz},
		{method: "GET", path: "/readyz", public: true, tag: "probes", summary: "Readiness: the store and the bus answer", resp: "Ready", h: a.readyz},
		{method: "GET", path: "/api/v1/openapi.json", public: true, tag: "meta", summary: "This document", resp: "Object", h: a.openAPI},
		{method: "GET", path: "/api/v1", tag: "meta", summary: "Version and entry points", resp: "Root", h: a.root},
		{method: "POST", path: "/api/v1/session", public: true, tag: "auth", summary: "Sign in: sets the session cookie and returns the CSRF token",
			body: "LoginRequest", status: 201, resp: "Principal"},
		{method: "DELETE", path: "/api/v1/session", tag: "auth", summary: "Sign out", status: 204},
		{method: "GET", path: "/api/v1/me", tag: "auth", summary: "Who is signed in, with the CSRF token of a session", resp: "Principal"},
		{method: "GET", path: "/api/v1/users", perm: auth.ManageUsers, tag: "auth", summary: "List users", query: append([]param{{name: "after", typ: "string", doc: "cursor: the last name of the previous page"}}, page...), resp: "UserPage", h: a.listUsers},
		{method: "POST", path: "/api/v1/users", perm: auth.ManageUsers, tag: "auth", summary: "Create a user", body: "UserRequest", status: 201, resp: "User", h: a.createUser},
		{method: "GET", path: "/api/v1/tokens", tag: "auth", summary: "The caller's API tokens", resp: "TokenPage", h: a.listTokens},
		{method: "POST", path: "/api/v1/tokens", tag: "auth", summary: "Issue an API token to the caller (or, with manage-users, to another user); the token is shown once",
			body: "TokenRequest", status: 201, resp: "NewToken", h: a.createToken},
		{method: "DELETE", path: "/api/v1/tokens/{id}", tag: "auth", summary: "Revoke one of the caller's tokens (any, with manage-users)", status: 204, h: a.revokeToken},

		{method: "GET", path: "/api/v1/meters", perm: auth.ReadFleet, tag: "registry", summary: "List meters",
			query: append([]param{{name: "segment", typ: "string"}, {name: "region", typ: "string"}, {name: "status", typ: "string"},
				{name: "usage_point", typ: "string"}, {name: "protocol", typ: "string"}, {name: "after", typ: "string", doc: "cursor: the next value of the previous page"}}, page...),
			resp: "MeterPage", h: a.listMeters},
		{method: "GET", path: "/api/v1/meters/{id}", perm: auth.ReadFleet, scope: scopeMeter, tag: "registry", summary: "One meter", resp: "Meter", h: a.getMeter},
		{method: "GET", path: "/api/v1/events", perm: auth.ReadFleet, tag: "events", summary: "End-device events and alarms, newest first",
			query: append([]param{{name: "meter", typ: "string"}, {name: "type", typ: "string", doc: "IEC 61968-9 event type, e.g. 3.26.0.85"},
				{name: "severity", typ: "string", doc: "info, warning, major..."},
				{name: "from", typ: "string", doc: "RFC 3339 time, or a date (from its UTC start)"}, {name: "to", typ: "string", doc: "RFC 3339 time (exclusive), or a date (to its UTC end)"},
				{name: "after", typ: "string", doc: "cursor: the next value of the previous page"}}, page...), resp: "EventPage", h: a.listEvents},

		{method: "GET", path: "/api/v1/meters/{id}/readings", perm: auth.ReadData, scope: scopeMeter, tag: "data", summary: "Interval readings with quality, latest version of each day",
			query: []param{{name: "channel", typ: "string", doc: "reading type, default A+15m"}, {name: "from", typ: "date", required: true}, {name: "to", typ: "date", required: true}},
			resp:  "Readings", h: a.readings},
		{method: "GET", path: "/api/v1/meters/{id}/totals", perm: auth.ReadData, scope: scopeMeter, tag: "data", summary: "Daily or monthly totals",
			query: []param{{name: "channel", typ: "string"}, {name: "by", typ: "string", doc: "day or month"}, {name: "from", typ: "date", required: true}, {name: "to", typ: "date", required: true}},
			resp:  "Totals", h: a.totals},
		{method: "GET", path: "/api/v1/meters/{id}/registers/latest", perm: auth.ReadData, scope: scopeMeter, tag: "data", summary: "The newest read of each register", resp: "Registers", h: a.lastRead},
		{method: "GET", path: "/api/v1/meters/{id}/object-model", perm: auth.ReadFleet, scope: scopeMeter, tag: "head-end", summary: "What the head-end learned of the meter: its object model, quirks and channel map", resp: "ObjectModel", h: a.objectModel},
		{method: "GET", path: "/api/v1/meters/{id}/days/{channel}/{day}/versions", perm: auth.ReadData, tag: "data", summary: "Every version of a stored day, with source, user and reason", resp: "DayVersions", h: a.dayVersions},
		{method: "POST", path: "/api/v1/meters/{id}/days/{channel}/{day}/edits", perm: auth.EditData, tag: "data", summary: "Edit intervals: a new version with the user and the reason", body: "EditRequest", status: 201, resp: "Day", h: a.editDay},
		{method: "POST", path: "/api/v1/meters/{id}/vee", perm: auth.EditData, tag: "data", summary: "Validate (and estimate) stored days now", body: "VEERequest", resp: "VEEReport", h: a.runVEE},
		{method: "GET", path: "/api/v1/exceptions", perm: auth.ReadData, tag: "data", summary: "The VEE exceptions queue, one per meter, day and rule, oldest first, with the count of all that match",
			query: append([]param{{name: "meter", typ: "string"}, {name: "rule", typ: "string"}, {name: "open", typ: "boolean", doc: "true: only the open ones"},
				{name: "from", typ: "date", doc: "first day"}, {name: "to", typ: "date", doc: "last day"}, {name: "after", typ: "integer", doc: "the next cursor of the page before"}}, page...),
			resp: "ExceptionPage", h: a.listExceptions},
		{method: "POST", path: "/api/v1/exceptions/{id}/resolve", perm: auth.EditData, tag: "data", summary: "Resolve an exception with the reason", body: "ResolveRequest", resp: "Exception", h: a.resolveException},
		{method: "GET", path: "/api/v1/vee/rulesets", perm: auth.ReadFleet, tag: "data", summary: "Validation rule sets by meter group", query: []param{{name: "meter", typ: "string", doc: "which set applies to this meter"}}, resp: "RuleSets", h: a.listRuleSets},

		{method: "GET", path: "/api/v1/usage-points/{id}/summary", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "Use now, today against a typical day, the price in force, the month so far", resp: "Summary", h: a.usagePointSummary},
		{method: "GET", path: "/api/v1/usage-points/{id}/export", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The usage point's interval data as Green Button (ESPI XML) or CSV",
			query:    []param{{name: "format", typ: "string", doc: "espi or csv", required: true}, {name: "from", typ: "date", required: true}, {name: "to", typ: "date", required: true}},
			respType: "application/atom+xml", h: a.exportUsagePoint, audit: audit.Export},
		{method: "GET", path: "/api/v1/usage-points/{id}/consents", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The household's consents in force", resp: "ConsentList", h: a.listConsents},
		{method: "PUT", path: "/api/v1/usage-points/{id}/consents/{purpose}", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The household consents (home-network: publish its near-real-time data to its home network); only the household itself", resp: "Consent", h: a.grantConsent},
		{method: "DELETE", path: "/api/v1/usage-points/{id}/consents/{purpose}", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The household withdraws a consent; publishing stops at once", status: 204, h: a.revokeConsent},
	}
	rs = append(rs, a.drRoutes(page)...)
	rs = append(rs, a.outageRoutes(page)...)
	rs = append(rs, a.billingRoutes(page)...)
	rs = append(rs, a.moneyRoutes()...)
	rs = append(rs, a.tariffMeterRoutes()...)
	rs = append(rs, a.topologyRoutes()...)
	rs = append(rs, a.pqRoutes()...)
	rs = append(rs, route{method: "GET", path: "/api/v1/audit", perm: auth.ReadAudit, tag: "audit", summary: "The audit trail, newest first",
		query: append([]param{{name: "actor", typ: "string"}, {name: "action", typ: "string", doc: "sign-in, denied, command-issue..."},
			{name: "from", typ: "string", doc: "RFC 3339 time, or a date (from its UTC start)"}, {name: "to", typ: "string", doc: "RFC 3339 time (exclusive), or a date (to its UTC end)"},
			{name: "before", typ: "integer", doc: "cursor: the next value of the previous page"}}, page...), resp: "AuditPage", h: a.listAudit})
	if a.d.HeadEnd != nil {
		rs = append(rs,
			route{method: "POST", path: "/api/v1/meters/{id}/read", perm: auth.Command, tag: "head-end", summary: "Read objects from the meter now", body: "ReadRequest", resp: "ReadResult", h: a.readMeter},
			route{method: "POST", path: importPath, perm: auth.Configure, tag: "registry", summary: "Import a shipment manifest (CSV body, streamed in batches, up to 1 GiB); the new meters are collected within a minute", respType: "text/csv", resp: "ImportReport", h: a.importMeters},
			route{method: "POST", path: weatherPath, perm: auth.Configure, tag: "head-end", summary: "Import a weather feed (CSV body: region,time,temperature_c) for the disconnect safeguards; a bad line refuses the whole feed", respType: "text/csv", resp: "WeatherImport", h: a.importWeather},
			route{method: "POST", path: "/api/v1/commands", perm: auth.Command, tag: "head-end", summary: "Issue a command (idempotent by correlationId)", body: "CommandRequest", status: 201, resp: "Command", h: a.issueCommand},
			route{method: "GET", path: "/api/v1/commands", perm: auth.ReadFleet, tag: "head-end", summary: "List commands, newest first",
				query: append([]param{{name: "meter", typ: "string"}, {name: "status", typ: "string"}}, page...), resp: "CommandPage", h: a.listCommands},
			route{method: "GET", path: "/api/v1/commands/{id}", perm: auth.ReadFleet, tag: "head-end", summary: "One command with its history", resp: "CommandDetail", h: a.getCommand},
			route{method: "GET", path: "/api/v1/approvals", perm: auth.Approve, tag: "head-end", summary: "Critical commands awaiting a second person's approval, oldest first, with issuer and deadline",
				query: page, resp: "ApprovalPage", h: a.listApprovals},
			route{method: "POST", path: "/api/v1/commands/{id}/approve", perm: auth.Approve, tag: "head-end", summary: "Approve a command awaiting approval; its issuer may not (403 self_approval); 409 not_awaiting once decided or expired", resp: "Command", h: a.approveCommand},
			route{method: "POST", path: "/api/v1/commands/{id}/reject", perm: auth.Approve, tag: "head-end", summary: "Reject a command awaiting approval, with the reason: it is never sent", body: "RejectRequest", resp: "Command", h: a.rejectCommand},
			route{method: "GET", path: "/api/v1/quarantine", perm: auth.ReadFleet, tag: "head-end", summary: "Commands held over the anomaly limits: counts by issuer and type, and a page of the commands in mRID order",
				query: append([]param{{name: "issuer", typ: "string"}, {name: "type", typ: "string"}, {name: "from", typ: "string", doc: "issued at or after: RFC 3339 time, or a date"},
					{name: "to", typ: "string", doc: "issued before: RFC 3339 time, or a date (to its UTC end)"}, {name: "after", typ: "string", doc: "cursor: the next value of the previous page"}}, page...),
				resp: "QuarantinePage", h: a.listQuarantine},
			route{method: "POST", path: "/api/v1/quarantine/release", perm: auth.ReleaseQuarantine, tag: "head-end", summary: "Release the quarantined commands a filter or ids pick (not one's own): each is queued, or awaits approval when the policy holds it",
				body: "QuarantineDecisionRequest", resp: "QuarantineDecision", h: a.decideQuarantine(true)},
			route{method: "POST", path: "/api/v1/quarantine/discard", perm: auth.ReleaseQuarantine, tag: "head-end", summary: "Discard the quarantined commands a filter or ids pick, with the reason",
				body: "QuarantineDecisionRequest", resp: "QuarantineDecision", h: a.decideQuarantine(false)},
			route{method: "GET", path: "/api/v1/collection", perm: auth.ReadFleet, tag: "head-end", summary: "Progress of the latest collection run", resp: "Progress", h: a.collectionProgress},
			route{method: "POST", path: "/api/v1/collection/runs", perm: auth.Command, tag: "head-end", summary: "Start a collection run for a day, now (spread: over the daily window); 400 for a future day or one over a year old", body: "RunRequest", status: 202, resp: "Progress", h: a.startCollection},
			route{method: "GET", path: "/api/v1/collection/{day}", perm: auth.ReadFleet, tag: "head-end", summary: "A day's collection: success and failures by cause", query: []param{{name: "segment", typ: "string"}}, resp: "CollectionDay", h: a.collectionDay},
			route{method: "GET", path: "/api/v1/collection/{day}/results", perm: auth.ReadFleet, tag: "head-end", summary: "A day's result per meter",
				query: append([]param{{name: "segment", typ: "string"}, {name: "outcome", typ: "string"}, {name: "after", typ: "string"}}, page...), resp: "ResultPage", h: a.collectionResults},
			route{method: "GET", path: "/api/v1/collectors", perm: auth.ReadFleet, tag: "head-end", summary: "The collector view of a collection day: per collector (segment) meters, read success, session times and failures by cause, worst first",
				query: []param{{name: "day", typ: "string", doc: "collection day YYYY-MM-DD (default: yesterday)"}}, resp: "CollectorView", h: a.collectors},
		)
	}
	if a.d.Campaigns != nil {
		rs = append(rs,
			route{method: "POST", path: "/api/v1/campaigns", perm: auth.Configure, tag: "campaigns", summary: "Create a campaign (key rotation needs manage-keys too); it waits for a second person's approval", body: "CampaignRequest", status: 201, resp: "Campaign", h: a.createCampaign},
			route{method: "GET", path: "/api/v1/campaigns", perm: auth.ReadFleet, tag: "campaigns", summary: "List campaigns, newest first", query: append([]param{{name: "status", typ: "string"}}, page...), resp: "CampaignPage", h: a.listCampaigns},
			route{method: "GET", path: "/api/v1/campaigns/{id}", perm: auth.ReadFleet, tag: "campaigns", summary: "A campaign's report: counts and failures by cause", resp: "CampaignReport", h: a.getCampaign},
			route{method: "POST", path: "/api/v1/campaigns/{id}/approve", perm: auth.Approve, tag: "campaigns", summary: "Approve a campaign (not its creator)", resp: "Campaign", h: a.decideCampaign},
			route{method: "POST", path: "/api/v1/campaigns/{id}/release", perm: auth.Approve, tag: "campaigns", summary: "Release a campaign its failure threshold stopped, optionally with a new threshold", body: "CampaignDecision", resp: "Campaign", h: a.decideCampaign},
			route{method: "POST", path: "/api/v1/campaigns/{id}/pause", perm: auth.Configure, tag: "campaigns", summary: "Pause a running campaign", resp: "Campaign", h: a.decideCampaign},
			route{method: "POST", path: "/api/v1/campaigns/{id}/resume", perm: auth.Configure, tag: "campaigns", summary: "Resume a paused campaign", resp: "Campaign", h: a.decideCampaign},
			route{method: "POST", path: "/api/v1/campaigns/{id}/cancel", perm: auth.Configure, tag: "campaigns", summary: "Cancel a campaign", resp: "Campaign", h: a.decideCampaign},
		)
	}
	if a.d.Auth != nil {
		for i := range rs {
			switch rs[i].method + " " + rs[i].path {
			case "POST /api/v1/session":
				rs[i].h = a.d.Auth.LoginHandler().ServeHTTP
			case "DELETE /api/v1/session":
				rs[i].h = a.d.Auth.LogoutHandler().ServeHTTP
			case "GET /api/v1/me":
				rs[i].h = a.d.Auth.WhoAmIHandler().ServeHTTP
			}
		}
	}
	return rs
}

// register puts the routes on the mux, each behind its permission.
func (a *API) register() {
	a.table = a.routes()
	for _, r := range a.table {
		if r.h == nil {
			continue // sign-in routes without an auth service
		}
		pattern := r.method + " " + r.path
		if r.path == "/api/v1" {
			a.mux.Handle("GET /api/v1/{$}", a.guard(r))
		}
		a.mux.Handle(pattern, a.guard(r))
	}
}

// isPublic tells the auth middleware which requests need no credentials:
// the public routes, the web pages and their assets, and the metrics.
func (a *API) isPublic(r *http.Request) bool {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/api/") {
		return true // probes, /metrics and the pages; their data comes through /api
	}
	for _, rt := range a.table {
		if rt.public && rt.method == r.Method && rt.path == p {
			return true
		}
	}
	return false
}

// guard enforces a route's permission. Without an auth service (tests of
// the handlers alone) everything passes.
func (a *API) guard(rt route) http.Handler {
	if a.d.Auth == nil || rt.public {
		return rt.h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			a.recordDenied(r, "", http.StatusUnauthorized, auth.ErrNoCredentials.Error())
			auth.Unauthorized(w, auth.ErrNoCredentials.Error())
			return
		}
		if rt.perm == "" || p.Can(rt.perm) {
			a.audited(rt, p, w, r)
			return
		}
		// A consumer reads their own usage points' data.
		if rt.perm == auth.ReadData && rt.scope != scopeNone && p.Can(auth.ReadOwnData) || rt.perm == auth.ReadFleet && rt.scope == scopeMeter && p.Can(auth.ReadOwnData) {
			up := r.PathValue("id")
			if rt.scope == scopeMeter {
				m, err := a.d.Store.Meter(r.Context(), r.PathValue("id"))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					a.internal(w, r, err)
					return
				}
				up = m.UsagePointID
			}
			if p.CanSeeUsagePoint(up) {
				a.audited(rt, p, w, r)
				return
			}
			a.recordDenied(r, p.User, http.StatusForbidden, "not one of the account's usage points")
			auth.Forbidden(w, "this account may read only its own usage points")
			return
		}
		a.recordDenied(r, p.User, http.StatusForbidden, "role "+string(p.Role)+" lacks the "+string(rt.perm)+" permission")
		auth.Forbidden(w, "role "+string(p.Role)+" lacks the "+string(rt.perm)+" permission")
	})
}

package api

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// schemasJSON holds the components' schemas; the paths come from the
// route table.
//
//go:embed openapi_schemas.json
var schemasJSON []byte

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// OpenAPI returns the OpenAPI 3 document of the API as it is registered.
func (a *API) OpenAPI() map[string]any {
	var schemas map[string]any
	if err := json.Unmarshal(schemasJSON, &schemas); err != nil {
		panic("api: openapi_schemas.json: " + err.Error()) // embedded at build time
	}
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	errResp := func(what string) map[string]any {
		return map[string]any{"description": what, "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
	}
	paths := map[string]any{}
	for _, r := range a.table {
		op := map[string]any{"summary": r.summary, "tags": []string{r.tag}, "operationId": operationID(r)}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.query {
			s := map[string]any{"type": q.typ}
			switch q.typ {
			case "date", "date-time":
				s = map[string]any{"type": "string", "format": q.typ}
			}
			p := map[string]any{"name": q.name, "in": "query", "schema": s}
			if q.required {
				p["required"] = true
			}
			if q.doc != "" {
				p["description"] = q.doc
			}
			params = append(params, p)
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(r.body)}}}
		}
		if r.path == "/api/v1/meters/import" || r.path == weatherPath {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		if r.path == topologyPath && r.method == http.MethodPut {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		status := r.status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch {
		case r.resp != "":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(r.resp)}}
		case r.respType != "":
			ok["content"] = map[string]any{r.respType: map[string]any{"schema": map[string]any{"type": "string"}}, "text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		resps := map[string]any{strconv.Itoa(status): ok, "400": errResp("Malformed parameters or body"), "500": errResp("The server failed")}
		if !r.public {
			resps["401"] = errResp("No, expired or wrong credentials")
			resps["403"] = errResp("The role lacks the permission, or the CSRF token is missing")
			sec := []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
			op["security"] = sec
			if r.perm != "" {
				op["x-amigo-permission"] = string(r.perm)
			}
		} else {
			op["security"] = []any{}
		}
		if strings.Contains(r.path, "{") {
			resps["404"] = errResp("No such object")
		}
		if r.body != "" {
			resps["413"] = errResp("Body over the size limit")
		}
		op["responses"] = resps
		item, _ := paths[r.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.path] = item
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "amigo API", "version": a.d.Version,
			"description": "The REST API of amigo, an open Advanced Metering Infrastructure: registry, collection, commands, interval data with its validation, and the consumer's own data. " +
				"Programs send 'Authorization: Bearer amg_…' tokens; the web pages use the session cookie and send X-CSRF-Token on unsafe requests. " +
				"Errors are {\"error\": {\"code\", \"message\"}}. Listings are {\"items\", \"next\"}: pass next as ?after= for the following page.",
			"license": map[string]any{"name": "Apache-2.0"}},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "an API token, amg_<id>_<secret>"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "amigo_session"},
			},
		},
	}
}

func operationID(r route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.method))
	for _, part := range strings.Split(r.path, "/") {
		part = strings.Trim(part, "{}")
		if part == "" || part == "api" || part == "v1" {
			continue
		}
		for _, w := range strings.FieldsFunc(part, func(c rune) bool { return c == '-' || c == '.' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	JSON(w, a.OpenAPI())
}

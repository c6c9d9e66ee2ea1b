package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/store"
)

func (a *API) users(w http.ResponseWriter) (store.Users, bool) {
	if a.d.Auth == nil {
		Error(w, http.StatusNotFound, "not_found", "this server has no users")
		return nil, false
	}
	return a.d.Auth.Store(), true
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "after", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	st, ok := a.users(w)
	if !ok {
		return
	}
	us, err := st.Users(r.Context(), q.Get("after"), limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := page[store.User]{Items: us}
	if p.Items == nil {
		p.Items = []store.User{}
	}
	if len(us) == limit {
		p.Next = us[len(us)-1].Name
	}
	JSON(w, p)
}

type userRequest struct {
	Name        string   `json:"name"`
	Password    string   `json:"password"`
	Role        string   `json:"role"`
	UsagePoints []string `json:"usagePoints"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req userRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !checkFields(w, nameField("name", req.Name), field{name: "password", value: req.Password, max: auth.MaxPasswordBytes},
		idField("role", req.Role)) || !checkCount(w, "usagePoints", len(req.UsagePoints), maxUsagePoints) {
		return
	}
	for i, up := range req.UsagePoints {
		if !checkFields(w, idField(fmt.Sprintf("usagePoints[%d]", i), up)) {
			return
		}
	}
	if a.d.Auth == nil {
		Error(w, http.StatusNotFound, "not_found", "this server has no users")
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		Error(w, http.StatusUnprocessableEntity, "bad_body", err.Error())
		return
	}
	u, err := a.d.Auth.CreateUser(r.Context(), req.Name, req.Password, role, req.UsagePoints)
	switch {
	case errors.Is(err, store.ErrConflict):
		Error(w, http.StatusConflict, "conflict", "a user of that name exists")
	case errors.As(err, new(auth.InputError)):
		Error(w, http.StatusUnprocessableEntity, "bad_body", err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, u)
	}
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	st, ok := a.users(w)
	if !ok {
		return
	}
	p, _ := auth.FromContext(r.Context())
	ts, err := st.Tokens(r.Context(), p.User)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if ts == nil {
		ts = []store.APIToken{}
	}
	JSON(w, page[store.APIToken]{Items: ts})
}

type tokenRequest struct {
	User  string `json:"user"`
	Label string `json:"label"`
	// TTL is a Go duration ("720h"); empty: the token does not expire.
	TTL string `json:"ttl"`
}

type newToken struct {
	Token string         `json:"token"`
	Info  store.APIToken `json:"info"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !checkFields(w, nameField("user", req.User), idField("label", req.Label), idField("ttl", req.TTL)) {
		return
	}
	if a.d.Auth == nil {
		Error(w, http.StatusNotFound, "not_found", "this server has no users")
		return
	}
	p, _ := auth.FromContext(r.Context())
	if req.User == "" {
		req.User = p.User
	}
	if req.User != p.User && !p.Can(auth.ManageUsers) {
		auth.Forbidden(w, "only a user manager issues tokens to others")
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			Error(w, http.StatusUnprocessableEntity, "bad_body", "ttl must be a positive duration such as 720h")
			return
		}
		ttl = d
	}
	tok, info, err := a.d.Auth.IssueToken(r.Context(), req.User, req.Label, ttl)
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no user "+req.User)
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, newToken{Token: tok, Info: info})
	}
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	st, ok := a.users(w)
	if !ok {
		return
	}
	p, _ := auth.FromContext(r.Context())
	t, err := st.Token(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no token "+r.PathValue("id"))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if t.User != p.User && !p.Can(auth.ManageUsers) {
		auth.Forbidden(w, "the token belongs to another user")
		return
	}
	if err := a.d.Auth.RevokeToken(r.Context(), t); err != nil {
		a.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

package store

import (
	"context"
	"time"
)

// User is a person or a system that signs in: an operator at the
// console, a household at the portal, an integrator's program.
type User struct {
	// Name is the login, kept lower-case: "Alice" and "alice" are one user.
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// PasswordHash is an argon2id hash in PHC string form; empty for a
	// user that signs in with API tokens only.
	PasswordHash string `json:"-"`
	Role         string `json:"role"`
	// UsagePoints are the consumer's own service points.
	UsagePoints []string  `json:"usagePoints,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// APIToken is a long-lived credential for programs. Only a hash of its
// secret is kept.
type APIToken struct {
	ID         string    `json:"id"`
	User       string    `json:"user"`
	Hash       []byte    `json:"-"`
	Label      string    `json:"label,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	Revoked    bool      `json:"revoked,omitempty"`
}

// Session is a signed-in browser. IDHash is a hash of the cookie value,
// so a copy of the database does not hand out live sessions.
type Session struct {
	IDHash     []byte
	User       string
	CSRF       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// Users keeps users, their API tokens and their web sessions.
type Users interface {
	// CreateUser adds a user; a user of that name is ErrConflict.
	CreateUser(ctx context.Context, u User) error
	// UpdateUser replaces a user's settings; an unknown user is ErrNotFound.
	UpdateUser(ctx context.Context, u User) error
	User(ctx context.Context, name string) (User, error)
	// Users lists users by name, after the name After.
	Users(ctx context.Context, after string, limit int) ([]User, error)
	CountUsers(ctx context.Context) (int, error)

	PutToken(ctx context.Context, t APIToken) error
	Token(ctx context.Context, id string) (APIToken, error)
	Tokens(ctx context.Context, user string) ([]APIToken, error)
	// RevokeToken revokes a token for good; an unknown one is ErrNotFound.
	RevokeToken(ctx context.Context, id string) error
	TouchToken(ctx context.Context, id string, at time.Time) error

	PutSession(ctx context.Context, s Session) error
	Session(ctx context.Context, idHash []byte) (Session, error)
	TouchSession(ctx context.Context, idHash []byte, at time.Time) error
	DeleteSession(ctx context.Context, idHash []byte) error
	DeleteUserSessions(ctx context.Context, user string) error
	// DeleteExpiredSessions removes sessions past their expiry and
	// returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

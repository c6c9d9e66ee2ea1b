package store

import (
	"context"
	"time"
)

// ConsentHomeNetwork is the household's consent that amigo publishes the
// usage point's near-real-time data to its home network (package han).
const ConsentHomeNetwork = "home-network"

// Consents is what households consented to, per usage point and purpose.
// Only consents in force are kept: a revoked one is deleted, and the
// audit trail holds the history of both.
type Consents interface {
	// GrantConsent records c. Granting again what is in force changes
	// nothing and returns the consent as first granted.
	GrantConsent(ctx context.Context, c Consent) (Consent, error)
	// RevokeConsent withdraws a consent: ErrNotFound when none was in force.
	RevokeConsent(ctx context.Context, usagePoint, purpose string) error
	// HasConsent reports whether the consent is in force.
	HasConsent(ctx context.Context, usagePoint, purpose string) (bool, error)
	// ListConsents lists the consents in force, by usage point and
	// purpose; empty fields of q match all.
	ListConsents(ctx context.Context, q ConsentQuery) ([]Consent, error)
}

// Consent is one household's consent to one purpose.
type Consent struct {
	UsagePoint string    `json:"usagePoint"`
	Purpose    string    `json:"purpose"`
	GrantedBy  string    `json:"grantedBy"`
	GrantedAt  time.Time `json:"grantedAt"`
}

// ConsentQuery filters a consent listing.
type ConsentQuery struct {
	UsagePoint, Purpose string
}

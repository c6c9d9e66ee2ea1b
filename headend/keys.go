package headend

import (
	"context"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// KeyRenewer is a Driver that can give its meters new keys. The new keys
// travel in the driver's own credential encoding: the core stages, seals
// and promotes them without ever reading one.
type KeyRenewer interface {
	// RenewCredentials returns credentials like current with fresh keys
	// drawn from a cryptographic source.
	RenewCredentials(current []byte) (next []byte, err error)
}

// FieldKeys is a KeyRenewer that tells keys renewed in the field from the
// shipped ones, so that importing the shipment's manifest again does not
// put back keys the meter no longer takes.
type FieldKeys interface {
	// KeepFieldKeys returns the credentials to keep when a manifest row's
	// shipped credentials meet the stored ones: the row's settings with
	// the stored keys when those were renewed in the field, else shipped.
	KeepFieldKeys(stored, shipped []byte) ([]byte, error)
}

// KeyChanger is a Session that can change the meter's keys. The session
// was opened under the current credentials; next are RenewCredentials'.
// The meter starts using the new keys for the associations after this
// one.
type KeyChanger interface {
	ChangeKeys(ctx context.Context, next []byte) error
}

// KeyStaging keeps a meter's pending credentials beside its current ones
// (store.KeyStaging); the store implements it.
type KeyStaging interface {
	StageMeterSecret(ctx context.Context, meterID string, sealed []byte) error
	PendingMeterSecret(ctx context.Context, meterID string) ([]byte, error)
	PromoteMeterSecret(ctx context.Context, meterID string) error
	DropPendingMeterSecret(ctx context.Context, meterID string) error
}

// SecretSealer seals credentials for the store; the vault's keyring is
// one. The head-end's SecretOpener must also seal for keys to change.
type SecretSealer interface {
	Seal(plain, aad []byte) ([]byte, error)
}

// KeyRotation is the campaign kind whose step is RotateKeys.
const KeyRotation = "key-rotation"

// ErrKeysKept is wrapped when a meter still answers only to its old keys
// after a key change: the change did not take, and nothing was changed.
var ErrKeysKept = errors.New("the meter kept its old keys")

// RotateKeys changes one meter's keys in stages, each of which a crash may
// interrupt:
//
//  1. new credentials are drawn and stored, sealed, as the meter's
//     pending ones beside the current ones;
//  2. the new keys are sent to the meter in an association under the old;
//  3. a fresh association under the new keys reads the meter's clock;
//  4. the pending credentials become the current ones, the old are gone.
//
// When the new keys do not associate but the old still do, the meter kept
// the old: the pending credentials are dropped and the error wraps
// ErrKeysKept. A meter found with pending credentials (a crash, a lost
// answer) is tried with the new keys first, then the old, and the stage is
// settled from what answers before anything is sent again. RotateKeys is
// therefore safe to run again on any meter at any time; it returns what
// happened, for a campaign's report.
//
// One session slot of the meter's segment is held throughout, so a
// rotation over a fleet is throttled like collection. A link failure (a
// timeout, a refused connection) is tried again like a collection's, with
// backoff and at most Attempts times, before it counts against a
// campaign's threshold: a meter busy or slow for a moment has not failed
// its key change, and running again is what the stages make safe.
func (h *HeadEnd) RotateKeys(ctx context.Context, meterID string) (string, error) {
	for attempt := 1; ; attempt++ {
		res, err := h.rotateOnce(ctx, meterID)
		if err == nil || ctx.Err() != nil || attempt >= h.ccfg.Attempts {
			return res, err
		}
		m, merr := h.st.Meter(ctx, meterID)
		if merr != nil {
			return res, err
		}
		c := h.cause(m, err)
		if c != OutcomeTimeout && c != OutcomeRefused {
			return res, err
		}
		h.m.retries.WithLabelValues(c).Inc()
		if retry.Wait(ctx, retry.Backoff(h.ccfg.RetryBase, h.ccfg.RetryMax, attempt)) != nil {
			return res, err
		}
	}
}

// rotateOnce is one attempt of RotateKeys.
func (h *HeadEnd) rotateOnce(ctx context.Context, meterID string) (string, error) {
	m, err := h.st.Meter(ctx, meterID)
	if err != nil {
		return "", fmt.Errorf("meter %s: %w", meterID, err)
	}
	if m.Parent != "" {
		return "", behindParent(m, "key change")
	}
	d, ok := h.drivers[m.Protocol]
	if !ok {
		return "", fmt.Errorf("meter %s: no driver for protocol %q", m.MRID, m.Protocol)
	}
	renewer, ok := d.(KeyRenewer)
	if !ok {
		return "", fmt.Errorf("meter %s: %s driver cannot change keys: %w", m.MRID, m.Protocol, ErrUnsupported)
	}
	staging, ok := h.st.(KeyStaging)
	if !ok {
		return "", fmt.Errorf("meter %s: the store keeps no pending credentials: %w", m.MRID, ErrUnsupported)
	}
	sealer, ok := h.secrets.(SecretSealer)
	if !ok {
		return "", fmt.Errorf("meter %s: the secrets cannot seal new credentials: %w", m.MRID, ErrUnsupported)
	}
	release, err := h.acquire(ctx, m.Segment)
	if err != nil {
		return "", err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, 3*h.ccfg.JobTimeout)
	defer cancel()
	r := rotation{h: h, m: m, d: d, staging: staging}
	t, _, err := h.target(ctx, m)
	if err != nil {
		return "", err
	}
	// key_transfer is a critical command: signed for a meter that checks.
	t.Signer = h.signerFor(cim.EndDeviceControl{Type: cim.ControlKeyChange})
	r.t = t
	defer clear(t.Credentials)

	resumed := ""
	if sealed, err := staging.PendingMeterSecret(ctx, m.MRID); err == nil {
		next, err := h.secrets.Open(sealed, []byte(m.MRID))
		if err != nil {
			return "", fmt.Errorf("meter %s: opening pending credentials: %w", m.MRID, err)
		}
		defer clear(next)
		newErr := r.probe(ctx, next)
		if newErr == nil {
			return r.promote(ctx, "keys changed before an interruption; the new keys answer")
		}
		if oldErr := r.probe(ctx, t.Credentials); oldErr != nil {
			return "", r.unsettled("", newErr, oldErr)
		}
		// The meter never took them: start over, as if nothing was staged.
		if err := r.write(ctx, func() error { return staging.DropPendingMeterSecret(ctx, m.MRID) }); err != nil {
			return "", err
		}
		resumed = "; an earlier change had not reached the meter"
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("meter %s: %w", m.MRID, err)
	}

	next, err := renewer.RenewCredentials(t.Credentials)
	if err != nil {
		return "", fmt.Errorf("meter %s: new keys: %w", m.MRID, err)
	}
	defer clear(next)
	sealed, err := sealer.Seal(next, []byte(m.MRID))
	if err != nil {
		return "", fmt.Errorf("meter %s: sealing new credentials: %w", m.MRID, err)
	}
	if err := r.write(ctx, func() error { return staging.StageMeterSecret(ctx, m.MRID, sealed) }); err != nil {
		return "", err
	}
	sendErr := r.send(ctx, next)
	// Whatever the answer, the meter may have taken the keys (a response
	// lost on the way back): only an association tells.
	newErr := r.probe(ctx, next)
	if newErr == nil {
		return r.promote(ctx, "keys changed"+resumed)
	}
	if oldErr := r.probe(ctx, t.Credentials); oldErr != nil {
		return "", r.unsettled(fmt.Sprintf(" after the key transfer (%v)", sendErr), newErr, oldErr)
	}
	if err := r.write(ctx, func() error { return staging.DropPendingMeterSecret(ctx, m.MRID) }); err != nil {
		return "", err
	}
	reason := newErr
	if sendErr != nil {
		reason = sendErr
	}
	h.record(ctx, audit.Record{Action: audit.KeyChange, Target: m.MRID, Outcome: audit.Failed,
		Details: map[string]string{"reason": reason.Error()}})
	return "", fmt.Errorf("meter %s: %w: %w", m.MRID, ErrKeysKept, reason)
}

// rotation is one meter's key change in progress.
type rotation struct {
	h       *HeadEnd
	m       cim.Meter
	d       Driver
	t       Target
	staging KeyStaging
}

// again runs fn until it succeeds, fails for a reason other than a
// meter that did not answer in time or refused the connection (busy with
// a session that is still closing, say), or has been tried the head-end's
// Attempts times, waiting a backoff between tries.
func (r rotation) again(ctx context.Context, fn func() error) error {
	for n := 1; ; n++ {
		err := fn()
		if err == nil || n >= r.h.ccfg.Attempts || ctx.Err() != nil {
			return err
		}
		if c := r.h.cause(r.m, err); c != OutcomeTimeout && c != OutcomeRefused {
			return err
		}
		if retry.Wait(ctx, retry.Backoff(r.h.ccfg.RetryBase, r.h.ccfg.RetryMax, n)) != nil {
			return err
		}
	}
}

// unsettled is the error of a meter that answered neither to its new
// keys nor its old. It wraps the old keys' refusal, unless the new keys'
// probe failed on the link (a timeout, a refused connection): that said
// nothing of the new keys, the meter may well hold them, and the link
// failure is what RotateKeys and a campaign must see, so that the change
// is settled by trying again rather than counted as refused.
func (r rotation) unsettled(after string, newErr, oldErr error) error {
	if c := r.h.cause(r.m, newErr); c == OutcomeTimeout || c == OutcomeRefused {
		return fmt.Errorf("meter %s: pending keys kept:%s the meter answers neither to its new keys (%w) nor its old (%v)", r.m.MRID, after, newErr, oldErr)
	}
	return fmt.Errorf("meter %s: pending keys kept:%s the meter answers neither to its new keys (%v) nor its old (%w)", r.m.MRID, after, newErr, oldErr)
}

// write runs a store write until it succeeds, up to the head-end's
// Attempts times with a backoff between: every write of a key change may
// be repeated, and a store busy with a fleet's sessions must not fail a
// meter whose keys may already have changed.
func (r rotation) write(ctx context.Context, fn func() error) error {
	for n := 1; ; n++ {
		err := fn()
		if err == nil || errors.Is(err, store.ErrNotFound) || n >= r.h.ccfg.Attempts || ctx.Err() != nil {
			return err
		}
		if retry.Wait(ctx, retry.Backoff(r.h.ccfg.RetryBase, r.h.ccfg.RetryMax, n)) != nil {
			return err
		}
	}
}

// send opens a session under the current credentials and transfers next.
func (r rotation) send(ctx context.Context, next []byte) error {
	return r.again(ctx, func() error { return r.sendOnce(ctx, next) })
}

func (r rotation) sendOnce(ctx context.Context, next []byte) error {
	s, err := r.d.Open(ctx, r.t)
	if err != nil {
		return fmt.Errorf("association under the old keys: %w", err)
	}
	defer s.Close(ctx)
	kc, ok := s.(KeyChanger)
	if !ok {
		return fmt.Errorf("meter %s: %s session cannot change keys: %w", r.m.MRID, r.m.Protocol, ErrUnsupported)
	}
	if err := kc.ChangeKeys(ctx, next); err != nil {
		return fmt.Errorf("key transfer: %w", err)
	}
	return nil
}

// probe associates with creds and reads the meter's clock.
func (r rotation) probe(ctx context.Context, creds []byte) error {
	return r.again(ctx, func() error { return r.probeOnce(ctx, creds) })
}

func (r rotation) probeOnce(ctx context.Context, creds []byte) error {
	t := r.t
	t.Credentials = creds
	s, err := r.d.Open(ctx, t)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	_, err = s.Clock(ctx)
	return err
}

// promote makes the pending credentials current.
func (r rotation) promote(ctx context.Context, what string) (string, error) {
	err := r.write(ctx, func() error { return r.staging.PromoteMeterSecret(ctx, r.m.MRID) })
	if errors.Is(err, store.ErrNotFound) {
		// Another node promoted them between our look and now.
		err = nil
	}
	if err != nil {
		return "", err
	}
	r.h.record(ctx, audit.Record{Action: audit.KeyChange, Target: r.m.MRID, Outcome: audit.OK,
		Details: map[string]string{"result": what}})
	return what, nil
}

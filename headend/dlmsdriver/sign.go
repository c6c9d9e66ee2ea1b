package dlmsdriver

import (
	"context"
	"fmt"
	"strconv"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
)

// The fraud log entries of a meter that refused a command for its
// signature (see docs/security.md): in the manufacturer-specific range.
func init() {
	eventKinds[231] = eventKind{"3.12.1.285", "critical command refused: unsigned", "major"}
	eventKinds[232] = eventKind{"3.12.1.286", "critical command refused: signature invalid or key not trusted", "critical"}
	eventKinds[233] = eventKind{"3.12.1.287", "critical command refused: replayed or out-of-order originator counter", "critical"}
}

// signing returns how this session signs a critical command, or nil when
// the head-end gave it no signer. Each call reserves a fresh originator
// counter in the store before anything is signed with it.
func (s *session) signing(ctx context.Context) (*dlms.Signing, error) {
	if s.t.Signer == nil {
		return nil, nil
	}
	if s.t.Counters == nil {
		return nil, fmt.Errorf("meter %s: no counter store to reserve the originator counter of a signed command", s.t.Meter.MRID)
	}
	first, err := s.t.Counters.Reserve(ctx, headend.CommandCounter, 1)
	if err != nil {
		return nil, fmt.Errorf("meter %s: reserving the originator counter: %w", s.t.Meter.MRID, err)
	}
	// A counter never reserved reads 0; the meter's "none accepted yet"
	// is 0 too, so the first command carries 1.
	return &dlms.Signing{Counter: first + 1, Sign: s.t.Signer.Sign, At: s.now()}, nil
}

// command invokes a method of a critical command: signed when the
// head-end signs, as before otherwise.
func (s *session) command(ctx context.Context, m dlms.Method, param axdr.Data) (axdr.Data, error) {
	sg, err := s.signing(ctx)
	if err != nil || sg == nil {
		if err != nil {
			return axdr.Data{}, err
		}
		return s.c.Action(ctx, m, param)
	}
	return s.c.ActionSigned(ctx, m, param, *sg)
}

// commandSet writes an attribute for a critical command, signed as
// command is.
func (s *session) commandSet(ctx context.Context, a dlms.Attr, v axdr.Data) error {
	sg, err := s.signing(ctx)
	if err != nil {
		return err
	}
	if sg == nil {
		return s.c.Set(ctx, a, v)
	}
	return s.c.SetSigned(ctx, a, v, *sg)
}

// setRelayMode writes the disconnect control's control_mode (0..6, Blue
// Book class 70) from the "mode" parameter.
func (s *session) setRelayMode(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	mode, err := strconv.ParseUint(c.Parameters["mode"], 10, 8)
	if err != nil || mode > 6 {
		return "", fmt.Errorf("%w: mode %q: want a control mode 0 to 6", headend.ErrBadCommand, c.Parameters["mode"])
	}
	if err := s.commandSet(ctx, dlms.Attr{Class: cosem.ClassDisconnectControl, OBIS: disconnectLN, Attribute: 4}, axdr.Enum(uint8(mode))); err != nil {
		return "", err
	}
	return fmt.Sprintf("relay control mode set to %d", mode), nil
}

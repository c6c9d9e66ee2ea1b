package c12driver

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/psem"
)

// session is one logged-on PSEM session with one meter: the link's own
// part, and the Reader of the meter's tables over it.
type session struct {
	*Reader
	d     *Driver
	t     headend.Target
	c     *psem.Client
	close func(ctx context.Context) error
	loc   *time.Location
	now   func() time.Time
}

// configure reads ST0 and ST1 and takes the meter's template.
func (s *session) configure(ctx context.Context) error {
	t := s.t
	t.Location, t.Now = s.loc, s.now
	r, err := NewReader(ctx, t, s.c, ReaderConfig{Protocol: s.d.Protocol(), Templates: &s.d.models, MaxRead: s.d.cfg.MaxRead})
	if err != nil {
		return err
	}
	if r.Format().BigEndian {
		s.c.ByteOrder = binary.BigEndian
	}
	s.Reader = r
	return nil
}

// Close implements headend.Session: it ends the session (terminate) and
// closes the connection.
func (s *session) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := s.c.Terminate(ctx)
	if cerr := s.close(ctx); err == nil {
		err = cerr
	}
	var code psem.Code
	if errors.As(err, &code) {
		return nil // the meter ended the session its own way; nothing is lost
	}
	return err
}

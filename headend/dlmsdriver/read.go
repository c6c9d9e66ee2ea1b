package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// Read implements headend.Reader: each object is "OBIS" or "OBIS:attr"
// (attribute 2 by default); its class comes from the association's object
// list. Without objects it reads the clock and the energy registers.
func (s *session) Read(ctx context.Context, objects []string) ([]headend.Value, error) {
	if len(objects) == 0 {
		objects = append(objects, clockLN.String())
		for _, ln := range registerOrder {
			objects = append(objects, ln.String())
		}
	}
	classes, err := s.classes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]headend.Value, 0, len(objects))
	for _, o := range objects {
		v := headend.Value{Object: o}
		code, attr, err := parseObject(o)
		if err != nil {
			v.Error = err.Error()
			out = append(out, v)
			continue
		}
		class, ok := classes[code]
		if !ok {
			v.Error = "not in the meter's object list"
			out = append(out, v)
			continue
		}
		d, err := s.c.Get(ctx, dlms.Attr{Class: class, OBIS: code, Attribute: attr}, nil)
		if err != nil {
			if errors.Is(err, dlms.ErrTimeout) || errors.Is(err, dlms.ErrPeerClosed) {
				return out, err
			}
			v.Error = err.Error()
			out = append(out, v)
			continue
		}
		v.Value = axdr.JSONValue(d)
		if (class == cosem.ClassRegister || class == cosem.ClassExtendedRegister) && attr == 2 {
			if sd, err := s.c.Get(ctx, dlms.Attr{Class: class, OBIS: code, Attribute: 3}, nil); err == nil {
				if su, err := axdr.ParseScalerUnit(sd); err == nil {
					v.Scaler, v.Unit = int(su.Scaler), su.Unit.String()
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *session) classes(ctx context.Context) (map[obis.Code]uint16, error) {
	list, err := s.c.ObjectList(ctx)
	if err != nil {
		return nil, fmt.Errorf("meter %s: object list: %w", s.t.Meter.MRID, err)
	}
	m := make(map[obis.Code]uint16, len(list))
	for _, e := range list {
		m[e.LogicalName] = e.ClassID
	}
	return m, nil
}

func parseObject(s string) (obis.Code, int8, error) {
	ln, a, has := strings.Cut(s, ":")
	code, err := obis.Parse(ln)
	if err != nil {
		return code, 0, fmt.Errorf("%q: %w", s, err)
	}
	attr := int8(2)
	if has {
		n, err := strconv.ParseInt(a, 10, 8)
		if err != nil || n < 1 {
			return code, 0, fmt.Errorf("%q: attribute must be a number from 1", s)
		}
		attr = int8(n)
	}
	return code, attr, nil
}

package c12driver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/psem"
)

const password = "000102030405060708090a0b0c0d0e0f10111213"

func row(proto string, fields map[string]string) manifest.Row {
	return manifest.Row{Line: 7, Protocol: proto, Kind: "electricity-1p", Fields: fields}
}

func TestRegisterC1218(t *testing.T) {
	d := c12driver.NewC1218(c12driver.Config{})
	if d.Protocol() != "c12.18" {
		t.Fatalf("protocol %q", d.Protocol())
	}
	reg, err := d.Register(row("c12.18", map[string]string{"c12_user": "amigo", "c12_user_id": "513", "c12_password": password}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := c12driver.ParseCredentials(reg.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "amigo" || c.UserID != 513 || len(c.Password) != 20 || c.Password[19] != 0x13 {
		t.Fatalf("credentials %+v", c)
	}
	if s := c.String(); strings.Contains(s, "0a0b") || strings.Contains(s, string(c.Password)) {
		t.Fatalf("String shows the password: %s", s)
	}
	bad := []struct {
		fields map[string]string
		column string
	}{
		{map[string]string{"c12_user": "amigo", "c12_user_id": "65536", "c12_password": password}, "c12_user_id"},
		{map[string]string{"c12_user": "amigo", "c12_user_id": "x", "c12_password": password}, "c12_user_id"},
		{map[string]string{"c12_user": "amigo-meter-1", "c12_user_id": "1", "c12_password": password}, "c12_user"},
		{map[string]string{"c12_user": "a\x01", "c12_user_id": "1", "c12_password": password}, "c12_user"},
		{map[string]string{"c12_user": "amigo", "c12_user_id": "1", "c12_password": password[:38]}, "c12_password"},
		{map[string]string{"c12_user": "amigo", "c12_user_id": "1", "c12_password": "zz" + password[2:]}, "c12_password"},
		{map[string]string{"c12_user": "amigo", "c12_password": password}, "c12_user_id"},
		{map[string]string{"c12_user": "amigo", "c12_user_id": "1"}, "c12_password"},
	}
	for _, b := range bad {
		_, err := d.Register(row("c12.18", b.fields))
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Column != b.column || re.Line != 7 {
			t.Errorf("%v: %v, want an error in column %s at line 7", b.fields, err, b.column)
		}
	}
	// An empty password is allowed: reads need no security service.
	if _, err := d.Register(row("c12.18", map[string]string{"c12_user": "", "c12_user_id": "0", "c12_password": ""})); err != nil {
		t.Error(err)
	}
	gas := row("c12.18", map[string]string{"c12_user": "amigo", "c12_user_id": "1", "c12_password": password})
	gas.Kind = "gas"
	if _, err := d.Register(gas); err == nil {
		t.Error("a gas meter registered as a C12.18 meter")
	}
}

func TestRegisterC1222(t *testing.T) {
	d := c12driver.NewC1222(c12driver.Config{})
	key := "00112233445566778899aabbccddeeff"
	ok := map[string]string{"c1222_aptitle": "2.16.124.113620.1.22.1.7", "c1222_key_id": "3", "c1222_key": key, "c1222_user_id": "2"}
	reg, err := d.Register(row("c12.22", ok))
	if err != nil {
		t.Fatal(err)
	}
	c, err := c12driver.ParseCredentials(reg.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	if c.ApTitle != "2.16.124.113620.1.22.1.7" || c.KeyID != 3 || len(c.Key) != 16 || c.Key[15] != 0xff || c.UserID != 2 {
		t.Fatalf("credentials %+v", c)
	}
	if strings.Contains(c.String(), "ff") {
		t.Fatalf("String shows the key: %s", c)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, b := range []struct{ column, value string }{
		{"c1222_aptitle", "3.1.2"}, {"c1222_aptitle", "1.40.3"}, {"c1222_aptitle", "7"}, {"c1222_aptitle", "2.16..3"},
		{"c1222_aptitle", "2.016.124"}, {"c1222_aptitle", ""}, {"c1222_key_id", "256"}, {"c1222_key", key[:30]},
		{"c1222_key", key + "00"}, {"c1222_user_id", "-1"},
	} {
		_, err := d.Register(row("c12.22", with(b.column, b.value)))
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Column != b.column {
			t.Errorf("%s=%q: %v", b.column, b.value, err)
		}
	}
	var names []string
	for _, c := range d.Columns() {
		names = append(names, c.Name)
	}
	if fmt.Sprint(names) != "[c1222_aptitle c1222_key_id c1222_key c1222_user_id]" {
		t.Errorf("columns %v", names)
	}
}

func TestCause(t *testing.T) {
	d := c12driver.NewC1218(c12driver.Config{})
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("meter x: security: %w", psem.ISC), headend.OutcomeAuth},
		{fmt.Errorf("meter x: %w", psem.SME), headend.OutcomeAuth},
		{fmt.Errorf("meter x: %w", psem.BSY), headend.OutcomeRefused},
		{fmt.Errorf("meter x: %w", psem.IAR), headend.OutcomeProtocol},
		{fmt.Errorf("meter x: %w", context.DeadlineExceeded), headend.OutcomeTimeout},
		{fmt.Errorf("meter x: %w", syscall.ECONNREFUSED), headend.OutcomeRefused},
		{errors.New("something else"), ""},
	} {
		if got := d.Cause(c.err); got != c.want {
			t.Errorf("Cause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

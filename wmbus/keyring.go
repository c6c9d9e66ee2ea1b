package wmbus

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Keyring holds per-meter AES-128 keys, by manufacturer and
// identification number. It is safe for concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	keys map[uint64][]byte
	// anyMaker holds keys given by number alone, for any manufacturer.
	anyMaker map[uint32][]byte
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring {
	return &Keyring{keys: map[uint64][]byte{}, anyMaker: map[uint32][]byte{}}
}

// Add sets the key of the meter at a (its Version and Type do not
// matter).
func (k *Keyring) Add(a Address, key []byte) error {
	if len(key) != 16 {
		return fmt.Errorf("wmbus: key of %s %08x: %d bytes, want 16", ManufacturerString(a.Manufacturer), a.ID, len(key))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[Address{Manufacturer: a.Manufacturer, ID: a.ID}.Key()] = append([]byte(nil), key...)
	return nil
}

// Key returns the key of the meter at a.
func (k *Keyring) Key(a Address) ([]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if key, ok := k.keys[Address{Manufacturer: a.Manufacturer, ID: a.ID}.Key()]; ok {
		return key, true
	}
	key, ok := k.anyMaker[a.ID]
	return key, ok
}

// Len returns how many keys the keyring holds.
func (k *Keyring) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys) + len(k.anyMaker)
}

// ParseMeter reads a meter's name as this package writes it:
// manufacturer and eight digits ("AMG00001234"), or the digits alone
// (any manufacturer, Manufacturer 0).
func ParseMeter(s string) (Address, error) {
	var a Address
	digits := s
	if len(s) == 11 {
		if a.Manufacturer = ManufacturerCode(strings.ToUpper(s[:3])); a.Manufacturer == 0 {
			return a, fmt.Errorf("wmbus: meter %q: %q is no manufacturer", s, s[:3])
		}
		digits = s[3:]
	}
	if len(digits) != 8 {
		return a, fmt.Errorf("wmbus: meter %q: want eight digits, after three letters or alone", s)
	}
	v, err := strconv.ParseUint(digits, 16, 32)
	if err != nil || strings.ContainsAny(digits, "abcdefABCDEF") {
		return a, fmt.Errorf("wmbus: meter %q: %q is not eight decimal digits", s, digits)
	}
	a.ID = uint32(v)
	return a, nil
}

// MeterName is ParseMeter's form of a.
func MeterName(a Address) string {
	return fmt.Sprintf("%s%08x", ManufacturerString(a.Manufacturer), a.ID)
}

// AddText adds a key by meter name and hex key.
func (k *Keyring) AddText(meter, hexKey string) error {
	a, err := ParseMeter(meter)
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 16 {
		return fmt.Errorf("wmbus: key of meter %s: want 32 hex digits", meter)
	}
	if a.Manufacturer == 0 {
		k.mu.Lock()
		k.anyMaker[a.ID] = key
		k.mu.Unlock()
		return nil
	}
	return k.Add(a, key)
}

// ReadKeyring reads lines "METER KEY" (ParseMeter's names, 32 hex
// digits), blank lines and # comments.
func ReadKeyring(r io.Reader) (*Keyring, error) {
	k := NewKeyring()
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("wmbus: keyring line %d: want METER KEY", n)
		}
		if err := k.AddText(f[0], f[1]); err != nil {
			return nil, fmt.Errorf("keyring line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wmbus: keyring: %w", err)
	}
	return k, nil
}

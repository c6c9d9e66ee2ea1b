package meter

import "time"

// Key events of the IDIS/DSMR tables.
const (
	// EventKeyChanged (standard log): global key(s) changed.
	EventKeyChanged EventCode = 18
	// EventDecryptionFailure (fraud log): a ciphered or wrapped input
	// did not decrypt or authenticate, such as a key transfer wrapped
	// under another master key.
	EventDecryptionFailure EventCode = 47
)

// KeysChanged records that the meter took new global keys: the event,
// and the management client's invocation counter forgotten with the old
// key, since a new key's counter starts again (Green Book). The counters
// are persisted before the change counts.
func (m *Meter) KeysChanged(now time.Time, client uint16) error {
	c := m.Counters()
	kept := c.Clients[:0]
	for _, cc := range c.Clients {
		if cc.Client != client {
			kept = append(kept, cc)
		}
	}
	c.Clients = kept
	if err := m.persist(c); err != nil {
		return err
	}
	m.RestoreCounters(c)
	m.logEvent(LogStandard, now, EventKeyChanged)
	return nil
}

// KeyTransferRefused records a key transfer the meter refused because a
// key did not unwrap under its master key.
func (m *Meter) KeyTransferRefused(now time.Time) {
	m.logEvent(LogFraud, now, EventDecryptionFailure)
}

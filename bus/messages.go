package bus

// What the head-end publishes and the MDM consumes. Interval blocks are in
// the binary form of package intervalcodec (JSON before it, still read);
// the other payloads are JSON of the cim types. Every message carries a
// message id, so a publish retried after a crash is stored once.
//
//	<ns>.readings.<meter>.intervals  cim.IntervalBlock     id "ib/<meter>/<readingType>/<first end unix>/<last end unix>/<n>"
//	<ns>.readings.<meter>.registers  []cim.Reading         id "rr/<meter>/<first time unix>/<last time unix>/<n>"
//	<ns>.events.<meter>              cim.EndDeviceEvent    id "ev/<event mRID>"
//	<ns>.commands.<meter>            cim.EndDeviceControl  id "ctl/<command mRID>/<status>"
const (
	TypeIntervals = "intervals"
	TypeRegisters = "registers"
)

// IntervalsSubject is where one meter's interval blocks go.
func (b *Bus) IntervalsSubject(meterID string) string {
	return b.Subject(Readings, meterID, TypeIntervals)
}

// RegistersSubject is where one meter's register reads go.
func (b *Bus) RegistersSubject(meterID string) string {
	return b.Subject(Readings, meterID, TypeRegisters)
}

// EventsSubject is where one meter's events go.
func (b *Bus) EventsSubject(meterID string) string { return b.Subject(Events, meterID) }

// CommandsSubject is where one meter's command transitions go.
func (b *Bus) CommandsSubject(meterID string) string { return b.Subject(Commands, meterID) }

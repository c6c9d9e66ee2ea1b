// SPDX-License-Identifier: Apache-2.0
//
// Reads one IEC 62056-21 data readout through a serial device with
// smartmeter-obis (D0 protocol, request/response transport) and prints
// each data set as a JSON line: {"id", "raw", "values"}.
//
// usage: node iec62056-read.js MODULE_DIR DEVICE [DEVICE_ADDRESS]
'use strict';

const SmartmeterObis = require(process.argv[2]);

const options = {
    protocol: 'D0Protocol',
    transport: 'SerialRequestResponseTransport',
    transportSerialPort: process.argv[3],
    transportSerialBaudrate: 300,
    protocolD0DeviceAddress: process.argv[4] || '',
    requestInterval: -1,
    transportSerialMessageTimeout: 20000,
    debug: 0,
};

const failTimer = setTimeout(() => {
    console.error('no readout within 30 s');
    process.exit(2);
}, 30000);

let transport;
function done(err, result) {
    if (err) {
        console.error('smartmeter-obis: ' + err.message);
        clearTimeout(failTimer);
        transport.stop();
        process.exit(1);
    }
    for (const id of Object.keys(result)) {
        const m = result[id];
        console.log(JSON.stringify({ id: m.idToString(), raw: m.rawValue, values: m.values }));
    }
    clearTimeout(failTimer);
    transport.stop(() => process.exit(0));
}

transport = SmartmeterObis.init(options, done);
transport.process();

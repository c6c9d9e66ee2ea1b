// Reads one P1 telegram from a simulated meter with smartmeter-obis's TCP
// transport and D0 protocol, and prints what it parsed as one JSON object
// {obis: [{value, unit}, ...]}.
// Usage: node p1peer.js SMARTMETER_OBIS_DIR HOST PORT
'use strict';
const SmartmeterObis = require(process.argv[2]);

const options = {
    protocol: 'D0Protocol',
    transport: 'TCPTransport',
    transportTcpHost: process.argv[3],
    transportTcpPort: parseInt(process.argv[4], 10),
    transportTcpMessageTimeout: 10000,
    protocolD0ModeOverwrite: 'D',
    requestInterval: 0,
    debug: 0,
    logger: (m) => process.stderr.write(String(m) + '\n'),
};

let transport;
const deadline = setTimeout(() => {
    process.stderr.write('no telegram within 15 s\n');
    process.exit(2);
}, 15000);

transport = SmartmeterObis.init(options, (err, result) => {
    if (err) {
        process.stderr.write('peer error: ' + err.message + '\n');
        return true;
    }
    const out = {};
    for (const id in result) {
        out[result[id].idToString()] = result[id].values;
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    clearTimeout(deadline);
    transport.stop(() => process.exit(0));
    return false;
});
transport.process();

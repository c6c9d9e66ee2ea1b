// Reads one M-Bus slave through node-mbus (libmbus) and prints its decoded
// data as JSON: node mbus_read.js <node-mbus dir> <host> <port> <address> [timeout ms]
// where address is a primary address or a 16-digit secondary address; or,
// with "scan" for the address, prints the secondary addresses libmbus's
// wildcard search finds.
'use strict';

const [dir, host, port, address, timeout] = process.argv.slice(2);
const MbusMaster = require(dir);

const master = new MbusMaster({host: host, port: Number(port), timeout: Number(timeout || 200), autoConnect: true});
const done = (err, data) => {
    if (err) {
        console.error(String(err));
        process.exitCode = 1;
    } else {
        process.stdout.write(JSON.stringify(data));
    }
    master.close();
};
if (address === 'scan') {
    master.scanSecondary(done);
} else {
    master.getData(/^\d{1,3}$/.test(address) ? Number(address) : address, done);
}

# Builds a C12.22 request with termineter's own c1222 module, which
# encodes the ACSE elements (called and calling ApTitle, calling
# invocation id, user information), sends it to HOST PORT over TCP and
# prints the request's and the response's octets in hex. The EPSEM is given in hex: the module's own EPSEM encoder
# does not run under Python 3.
import socket
import sys

from c1222.data import C1222Packet, C1222UserInformation

host, port, called, calling, invocation, epsem = sys.argv[1:7]
pkt = C1222Packet(called, calling, int(invocation),
                  data=C1222UserInformation(bytes.fromhex(epsem)).build())
raw = pkt.build()
with socket.create_connection((host, int(port)), timeout=10) as s:
    s.sendall(raw)
    s.settimeout(10)
    data = b''
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) >= 2 and data[1] < 0x80 and len(data) >= 2 + data[1]:
            break
print(raw.hex())
print(data.hex())

# A DNS server for tests/tests/dns_retry.rs, on 127.0.0.1:53 inside a network namespace the test made:
# "flaky.test" gets SERVFAIL (getaddrinfo: EAI_AGAIN) for the first 0.25 s after its first query, then
# A 127.0.0.1; "gone.test" gets NXDOMAIN (EAI_NONAME). Every query's name is appended to argv[1].
import socket, struct, sys, time
log = open(sys.argv[1], "a", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
first = None
while True:
    data, peer = s.recvfrom(512)
    qid, flags = struct.unpack(">HH", data[:4])
    i, labels = 12, []
    while data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode()); i += 1 + data[i]
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    question = data[12:i + 5]
    name = ".".join(labels).lower()
    log.write(f"{name} {qtype}\n")
    answers, rcode = b"", 0
    if name == "gone.test":
        rcode = 3
    elif name == "flaky.test":
        first = first or time.monotonic()
        if time.monotonic() - first < 0.25:
            rcode = 2
        elif qtype == 1:
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    else:
        rcode = 3
    header = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(header + question + answers, peer)

#!/usr/bin/env node
// A strict OCPP 1.6J central system for end-to-end tests (ocpp-rpc, strictMode).
//
// Every message in both directions is validated against the official OCPP 1.6 JSON
// schemas (security extension included) by a JSON/WebSocket stack that shares nothing
// with the firmware's. Usage: node csms.js [PORT]   (0 or absent: any free port)
//
// stdout: one JSON object per line
//   {"event":"listening","port":N}
//   {"event":"connected","identity":ID,"protocol":P,"password":S|null}
//   {"event":"recv","identity":ID,"action":A,"params":{...}}         a CALL from the station
//   {"event":"result","id":X,"action":A,"result":{...}}              answer to a call we sent
//   {"event":"result","id":X,"action":A,"error":{"code":C,"message":M}}
//   {"event":"strict_fail","identity":ID,"method":A,"outbound":B,"isCall":B,"error":M}
//   {"event":"bad_message","identity":ID,"error":M}
//   {"event":"disconnected","identity":ID,"code":N}
// stdin: one JSON object per line
//   {"call":"RemoteStartTransaction","params":{...},"id":X}          to the connected station
//   {"cmd":"boot","status":"Pending","interval":N}                   later BootNotification answers
//   {"cmd":"disconnect"}                                             close the station's socket
'use strict';

const { RPCServer, createRPCError } = require('ocpp-rpc');
const readline = require('readline');

const port = Number(process.argv[2] || 0);
let bootStatus = 'Accepted';
let bootInterval = 300;
let nextTransactionId = 1;
let current = null; // the connected station (one at a time)

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function idTagInfo(idTag) {
    const tag = String(idTag || '').toUpperCase();
    if (tag.startsWith('INVALID')) return { status: 'Invalid' };
    if (tag.startsWith('BLOCKED')) return { status: 'Blocked' };
    return { status: 'Accepted' };
}

const now = () => new Date().toISOString();

const answers = {
    BootNotification: () => ({ status: bootStatus, interval: bootInterval, currentTime: now() }),
    Heartbeat: () => ({ currentTime: now() }),
    StatusNotification: () => ({}),
    MeterValues: () => ({}),
    Authorize: (p) => ({ idTagInfo: idTagInfo(p.idTag) }),
    StartTransaction: (p) => ({ transactionId: nextTransactionId++, idTagInfo: idTagInfo(p.idTag) }),
    StopTransaction: (p) => (p.idTag !== undefined ? { idTagInfo: idTagInfo(p.idTag) } : {}),
    DataTransfer: () => ({ status: 'UnknownVendorId' }),
    FirmwareStatusNotification: () => ({}),
    DiagnosticsStatusNotification: () => ({}),
    SecurityEventNotification: () => ({}),
};

async function main() {
    const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });

    server.auth((accept, reject, handshake) => {
        const password = handshake.password ? handshake.password.toString('utf8') : null;
        accept({ password });
    });

    server.on('client', (client) => {
        current = client;
        const identity = client.identity;
        emit({
            event: 'connected', identity, protocol: client.protocol,
            password: client.session.password,
        });
        client.on('strictValidationFailure', (e) => {
            emit({
                event: 'strict_fail', identity, method: e.method, outbound: e.outbound,
                isCall: e.isCall, error: e.error && e.error.message,
            });
        });
        client.on('badMessage', (e) => {
            emit({ event: 'bad_message', identity, error: e.error && e.error.message });
        });
        client.on('close', (e) => {
            if (current === client) current = null;
            emit({ event: 'disconnected', identity, code: e && e.code });
        });
        for (const [action, answer] of Object.entries(answers)) {
            client.handle(action, ({ params }) => {
                emit({ event: 'recv', identity, action, params });
                return answer(params);
            });
        }
        client.handle(({ method, params }) => {
            emit({ event: 'recv', identity, action: method, params });
            throw createRPCError('NotImplemented');
        });
    });

    const httpServer = await server.listen(port, '127.0.0.1');
    emit({ event: 'listening', port: httpServer.address().port });

    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', async (line) => {
        let cmd;
        try {
            cmd = JSON.parse(line);
        } catch (err) {
            emit({ event: 'error', error: `bad command: ${line}` });
            return;
        }
        if (cmd.cmd === 'boot') {
            bootStatus = cmd.status || bootStatus;
            bootInterval = cmd.interval ?? bootInterval;
            emit({ event: 'ack', cmd: 'boot' });
        } else if (cmd.cmd === 'disconnect') {
            if (current) await current.close({ code: 1001, force: true });
            emit({ event: 'ack', cmd: 'disconnect' });
        } else if (cmd.call) {
            if (!current) {
                emit({ event: 'result', id: cmd.id, action: cmd.call,
                       error: { code: 'NotConnected', message: 'no station connected' } });
                return;
            }
            try {
                const result = await current.call(cmd.call, cmd.params || {});
                emit({ event: 'result', id: cmd.id, action: cmd.call, result });
            } catch (err) {
                emit({ event: 'result', id: cmd.id, action: cmd.call,
                       error: { code: err.rpcErrorCode || err.name, message: err.message } });
            }
        }
    });
    rl.on('close', async () => {
        await server.close({ force: true });
        process.exit(0);
    });
}

main().catch((err) => {
    emit({ event: 'error', error: String(err && err.stack || err) });
    process.exit(1);
});

// Counting worker (worker_threads entry, plain JS so it runs from src/ under jest and from dist/): counts the text chunks it is sent.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { countTexts } = require('./count-core.cjs');

// Builds its own table from the chunks it is sent, acknowledges each one (the sender's back-pressure),
// and posts the table back when told to finish.
const splitRe = new RegExp(workerData.split.source, workerData.split.flags);
const specialRe = workerData.special ? new RegExp(workerData.special.source, workerData.special.flags) : null;
const maxWords = workerData.maxWords;
const table = new Map();
let pruned = 0;
parentPort.on('message', (msg) => {
  if (msg.texts) {
    pruned += countTexts(table, msg.texts, splitRe, specialRe, maxWords);
    parentPort.postMessage({ ack: true });
  } else if (msg.finish) {
    parentPort.postMessage({ table, pruned });
    parentPort.close();
  }
});

// Publishes events to the clients of every sio-server instance (and of any
// Node socket.io server with @socket.io/redis-adapter) sharing a Redis,
// with the stock @socket.io/redis-emitter. See docs/cluster.md.
//
//   npm install redis@4 @socket.io/redis-emitter@5
//   REDIS_URL=redis://127.0.0.1:6379 node examples/emitter-node.mjs project:1
import crypto from "node:crypto";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

const room = process.argv[2] || "project:1";
const redis = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379" });
await redis.connect();
const emitter = new Emitter(redis); // key "socket.io", namespace "/"

// The envelope every sio-server event carries (docs/events.md).
const envelope = {
  event_id: crypto.randomUUID(),
  type: "project.updated",
  timestamp: new Date().toISOString(),
  data: { id: room.split(":")[1], name: "renamed" },
};
emitter.to(room).emit("project.updated", envelope);
console.log(`published project.updated to ${room}`);
await redis.quit();

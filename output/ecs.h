/* ecs.h - the Elastic Common Schema form of an EVE event.
 *
 * ecs_from_eve() maps one EVE event object (any event_type, including the
 * alert lines other modules build) to an ECS document: the fields ECS has
 * a name for move there (@timestamp, event.*, source.*, destination.*,
 * network.*, user.name, rule.*, url.*, http.*, user_agent.*, observer.*);
 * everything else stays, under its EVE name, in the "leakhound" object, so
 * nothing is lost. The mapping is in docs/output.md. Works on jansson
 * objects; only output/ includes jansson. */
#ifndef LH_ECS_H
#define LH_ECS_H

struct json_t;

/* Who is observing: observer.hostname (may be NULL or "": omitted). */
struct ecs_observer {
    const char *hostname;
};

/* A new ECS object for the EVE object eve (which is not changed); the caller
 * owns it (json_decref). NULL when eve is not an object or memory runs out. */
struct json_t *ecs_from_eve(const struct json_t *eve, const struct ecs_observer *obs);

/* ECS version the documents follow (ecs.version). */
#define ECS_VERSION "8.11.0"

#endif

"""CloudFormation's custom-named replacement rule, and updates AWS refuses in place, for
the local AWS harness.

AWS: an update that must replace a resource whose physical name the template sets (and
keeps) fails: the new resource cannot be created under the old one's name while the old
one exists. The resource's event says "CloudFormation cannot update a stack when a
custom-named resource requires replacing. Rename <name> and update the stack again.", and
the stack rolls back (UPDATE_ROLLBACK_COMPLETE). moto replaces it in place. Here an
UpdateStack or an executed change set that would do so fails as AWS fails it.

Which properties replace which types: src/stacks/named_replacements.json, the table
facturactl's `plan` reads too (from the CloudFormation resource reference).
"""
from __future__ import annotations

import functools
import json
import os
import re

TABLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "stacks",
                          "named_replacements.json")


@functools.cache
def table() -> dict:
    """The table, read once."""
    with open(TABLE_PATH, encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


def resolve(value, parameters: dict):
    """A property value with the template's parameters put in (Ref, Fn::Sub); other
    intrinsics are compared as written."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Ref" and isinstance(inner, str):
            return parameters.get(inner, {"Ref": inner})
        if key == "Fn::Sub":
            text, names = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
            if isinstance(text, str):
                def put(m):
                    name = m.group(1)
                    if name in names:
                        return json.dumps(resolve(names[name], parameters))
                    found = parameters.get(name)
                    return str(found) if found is not None else m.group(0)
                return re.sub(r"\$\{([^}!]+)\}", put, text)
    if isinstance(value, dict):
        return {k: resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    return value


def with_defaults(template: dict, parameters: dict) -> dict:
    values = {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()
              if isinstance(spec, dict) and "Default" in spec}
    values.update(parameters or {})
    return {k: str(v) if v is not None else v for k, v in values.items()}


def conflicts(old: dict, old_parameters: dict, new: dict, new_parameters: dict) -> list[dict]:
    """The resources an update would replace while keeping their custom name."""
    rules = table()
    old_values, new_values = with_defaults(old, old_parameters), with_defaults(new, new_parameters)
    found = []
    for logical_id, resource in (new.get("Resources") or {}).items():
        before = (old.get("Resources") or {}).get(logical_id)
        rule = rules.get(resource.get("Type"))
        if not rule or not before or before.get("Type") != resource.get("Type"):
            continue
        props, old_props = resource.get("Properties") or {}, before.get("Properties") or {}
        name = resolve(props.get(rule["name"]), new_values)
        if name is None or name != resolve(old_props.get(rule["name"]), old_values):
            continue  # no custom name, or a new one: the replacement can be created
        changed = [p for p in rule["replace"]
                   if resolve(props.get(p), new_values) != resolve(old_props.get(p), old_values)]
        if changed:
            found.append({"logical_id": logical_id, "type": resource["Type"], "name": name,
                          "properties": changed})
    return found


def refused_in_place(old: dict, old_parameters: dict, new: dict, new_parameters: dict) -> list[dict]:
    """The in-place updates AWS refuses: a security group given to a network load balancer
    created without one (SetSecurityGroups: "You can't perform this operation on a Network
    Load Balancer unless you specified a security group for the load balancer when you
    created it"). A renamed one is a new load balancer, which may have them."""
    old_values, new_values = with_defaults(old, old_parameters), with_defaults(new, new_parameters)
    found = []
    for logical_id, resource in (new.get("Resources") or {}).items():
        before = (old.get("Resources") or {}).get(logical_id)
        if (resource.get("Type") != "AWS::ElasticLoadBalancingV2::LoadBalancer" or not before
                or before.get("Type") != resource.get("Type")):
            continue
        props, old_props = resource.get("Properties") or {}, before.get("Properties") or {}
        if props.get("Type") != "network" or old_props.get("Type") != "network":
            continue
        name = resolve(props.get("Name"), new_values)
        if name is None or name != resolve(old_props.get("Name"), old_values):
            continue
        if props.get("SecurityGroups") and not old_props.get("SecurityGroups"):
            found.append({"logical_id": logical_id, "type": resource["Type"], "name": name,
                          "reason": ("You can't perform this operation on a Network Load Balancer "
                                     "unless you specified a security group for the load balancer "
                                     "when you created it. (Service: ElasticLoadBalancingV2; "
                                     "Error Code: InvalidConfigurationRequest)")})
    return found


def install() -> None:
    """Patches moto's UpdateStack and ExecuteChangeSet with the rule."""
    from moto.cloudformation.models import CloudFormationBackend, Event, Stack

    def fail(stack, found: list[dict]) -> None:
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        for conflict in found:
            existing = next((r for r in stack.stack_resources
                             if getattr(r, "logical_resource_id", None) == conflict["logical_id"]), None)
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name,
                logical_resource_id=conflict["logical_id"],
                physical_resource_id=getattr(existing, "physical_resource_id", conflict["name"]),
                resource_type=conflict["type"], resource_status="UPDATE_FAILED",
                resource_status_reason=conflict.get("reason") or (
                    "CloudFormation cannot update a stack when a custom-named resource requires "
                    f"replacing. Rename {conflict['name']} and update the stack again."),
                resource_properties=None))
        names = ", ".join(c["logical_id"] for c in found)
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS",
                               resource_status_reason=f"The following resource(s) failed to update: [{names}]. ")
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"

    def current(stack) -> dict:
        """The parameters the stack runs with (moto's resolved set lags an update's)."""
        values = dict(stack.stack_parameters)
        values.update(stack.parameters or {})
        return values

    def parsed(text: str) -> dict:
        return Stack.parse_template(text) or {}

    update_stack = CloudFormationBackend.update_stack

    def checked_update(self, name, template, role_arn, parameters, tags):
        stack = self.get_stack(name)
        incoming = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
        old, new = parsed(stack.template), parsed(template)
        found = (conflicts(old, current(stack), new, incoming)
                 + refused_in_place(old, current(stack), new, incoming))
        if found:
            fail(stack, found)
            return stack
        return update_stack(self, name, template, role_arn, parameters, tags)

    execute = CloudFormationBackend.execute_change_set

    def checked_execute(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None)
        if change_set is not None and change_set.change_set_type == "UPDATE":
            stack = self.stacks[change_set.stack_id]
            incoming = change_set.parameters or {}
            if isinstance(incoming, list):
                incoming = {p["ParameterKey"]: p.get("ParameterValue") for p in incoming}
            old, new = parsed(stack.template), parsed(change_set.template)
            found = (conflicts(old, current(stack), new, incoming)
                     + refused_in_place(old, current(stack), new, incoming))
            if found:
                fail(stack, found)
                change_set.execution_status = "EXECUTE_FAILED"
                return None
        return execute(self, change_set_name, stack_name)

    # After an update, a parameter the new template no longer declares is gone (AWS);
    # moto kept it in the stack's parameters, so every later plan saw it "removed".
    stack_update = Stack.update

    def update_pruned(self, template, role_arn=None, parameters=None, tags=None):
        stack_update(self, template, role_arn, parameters=parameters, tags=tags)
        declared = set((self.template_dict or {}).get("Parameters") or {})
        resolved = self.resource_map.resolved_parameters
        for name in [n for n in resolved if n not in declared]:
            del resolved[name]
        if self.parameters:
            self.parameters = {k: v for k, v in self.parameters.items() if k in declared}

    Stack.update = update_pruned
    CloudFormationBackend.update_stack = checked_update
    CloudFormationBackend.execute_change_set = checked_execute

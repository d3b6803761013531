import Synchronization

/// Routes a person's touches on a composed display to the VM whose layer is under them, in
/// that layer's pixels (its scanout's, which the VM's touchscreen covers), under the
/// compositor's policy in force ({AVPS-v2.0-29}: what shows is what is touched).
///
/// A contact belongs to the VM it first touched until it lifts, like a finger on a real
/// screen: dragging across another VM's layer still moves in the first VM (at coordinates
/// past its edge, clamped at 0 here and at the far edge by the touchscreen). Touches on a
/// place where no layer shows, or on a VM without a touchscreen, go nowhere.
public final class TouchRouter: Sendable {
    private let compositor: Compositor
    private let targets: [String: TouchTarget]
    private let grabs = Mutex<[Grab: Owner]>([:])

    private struct Grab: Hashable {
        var display: String
        var contact: Int
    }

    private struct Owner {
        var vm: String
        var originX: Int
        var originY: Int
    }

    /// Where a touch went.
    public enum Routed: Sendable, Equatable {
        case delivered(vm: String, TouchAction)
        /// No layer shows there, or its VM has no touchscreen, or the contact does not touch.
        case nowhere
        case unknownDisplay
    }

    /// `targets`: each VM's touchscreen, by VM name.
    public init(compositor: Compositor, targets: [String: TouchTarget]) {
        self.compositor = compositor
        self.targets = targets
    }

    /// Routes `action`, given in `display`'s pixels.
    @discardableResult
    public func route(_ action: TouchAction, on display: String) -> Routed {
        guard let policy = compositor.policy(display) else { return .unknownDisplay }
        let grab = Grab(display: display, contact: action.contact)
        // Sent under the lock (`send` never blocks): touches reach a VM in the order they were routed.
        let routed: (String, TouchAction)? = grabs.withLock { grabs in
            guard let (target, vm, local) = owner(of: action, grab, policy, &grabs) else { return nil }
            target.send(local)
            return (vm, local)
        }
        guard let (vm, local) = routed else { return .nowhere }
        return .delivered(vm: vm, local)
    }

    /// The VM a touch goes to and the touch in its pixels; records and ends grabs.
    private func owner(of action: TouchAction, _ grab: Grab, _ policy: DisplayPolicy,
                       _ grabs: inout [Grab: Owner]) -> (TouchTarget, String, TouchAction)? {
        switch action {
        case let .touch(contact, x, y), let .move(contact, x, y):
            if let owner = grabs[grab], let target = targets[owner.vm] {
                let local = (max(0, x - owner.originX), max(0, y - owner.originY))
                if case .touch = action { return (target, owner.vm, .touch(contact: contact, x: local.0, y: local.1)) }
                return (target, owner.vm, .move(contact: contact, x: local.0, y: local.1))
            }
            guard case .touch = action, let hit = policy.layer(at: x, y), let target = targets[hit.source.vm] else { return nil }
            let d = policy.layers[hit.index].destination
            grabs[grab] = Owner(vm: hit.source.vm, originX: Int(d.x), originY: Int(d.y))
            return (target, hit.source.vm, .touch(contact: contact, x: hit.x, y: hit.y))
        case .release:
            guard let owner = grabs.removeValue(forKey: grab), let target = targets[owner.vm] else { return nil }
            return (target, owner.vm, action)
        }
    }
}

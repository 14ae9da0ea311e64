# -*- encoding: utf-8 -*-
# ... REDACTED ...

Gem::Specification.new do |spec|
    spec.name = "async".freeze
    spec.version = "1.25.0"
    spec.license = "MIT"

    # ... REDACTED ...
end

# frozen_string_literal: true

VERSION = '3.0.0'

Gem::Specification.new do |spec|
  spec.name = 'example_inline'
  spec.version = VERSION
end

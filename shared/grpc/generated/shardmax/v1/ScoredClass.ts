// Original file: proto/shardmax/v1/softmax.proto


export interface ScoredClass {
  'id'?: (number);
  'label'?: (string);
  'logit'?: (number | string);
  'logprob'?: (number | string);
  'prob'?: (number | string);
}

export interface ScoredClass__Output {
  'id': (number);
  'label': (string);
  'logit': (number);
  'logprob': (number);
  'prob': (number);
}
